// Package images turns uploaded product images into thumbnails in the object store.
package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // uploads may be PNG
	"io"

	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"
	"golang.org/x/image/draw"
	"golang.org/x/sync/semaphore"

	"github.com/flashcrowd/flashcrowd/contracts/media"
	"github.com/flashcrowd/flashcrowd/contracts/tasks"
)

const (
	// maxPixels guards against decompression bombs (a small file that decodes to gigabytes) and
	// bounds what one decode holds: 25 megapixels, a 6000×4000 camera photo and some.
	maxPixels = 25_000_000
	// maxSide bounds a side: the scaler's scratch grows with the source's height (see cost), so
	// a 1×25,000,000 image would need 800 MB.
	maxSide = 20_000
	// bytesPerPixel is the most a decoded pixel takes: a 16-bit RGBA PNG (NRGBA64).
	bytesPerPixel = 8
	// scratchBytes is what the scaler keeps per cell of its intermediate image: 4 float64s.
	scratchBytes = 32
	// MaxDecodeBytes is the most memory one thumbnail may hold, the cost of the worst image
	// accepted: a square one of maxPixels (5000×5000), whose scratch is ThumbnailSide × 5000
	// cells. The decode budget must allow it.
	MaxDecodeBytes = maxPixels*bytesPerPixel + ThumbnailSide*5000*scratchBytes
	// ThumbnailSide is the longest side of a thumbnail, in pixels.
	ThumbnailSide = 320
)

// Thumbnailer handles thumbnail tasks.
type Thumbnailer struct {
	Store  *minio.Client
	Bucket string
	// Decoding holds the bytes the thumbnails in flight may take, so that a burst of large images
	// waits for memory instead of exceeding the container's limit: each acquires its cost first.
	Decoding *semaphore.Weighted
}

// ProcessTask implements asynq.Handler.
func (t *Thumbnailer) ProcessTask(ctx context.Context, task *asynq.Task) error {
	p, err := tasks.ParseThumbnail(task)
	if err != nil {
		return err
	}
	obj, err := t.Store.GetObject(ctx, t.Bucket, p.Key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("get %s: %w", p.Key, err)
	}
	defer obj.Close()
	src, err := io.ReadAll(io.LimitReader(obj, media.MaxUploadBytes+1))
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return fmt.Errorf("image %s is gone: %w", p.Key, asynq.SkipRetry)
		}
		return fmt.Errorf("read %s: %w", p.Key, err)
	}
	w, h, err := size(src)
	if err != nil {
		return fmt.Errorf("image %s: %v: %w", p.Key, err, asynq.SkipRetry) // bad input stays bad
	}
	need := cost(w, h)
	if err := t.Decoding.Acquire(ctx, need); err != nil {
		return fmt.Errorf("wait for decode memory: %w", err)
	}
	out, err := Thumbnail(src, ThumbnailSide)
	t.Decoding.Release(need)
	if err != nil {
		return fmt.Errorf("image %s: %v: %w", p.Key, err, asynq.SkipRetry) // bad input stays bad
	}
	_, err = t.Store.PutObject(ctx, t.Bucket, media.ThumbnailKey(p.Key), bytes.NewReader(out), int64(len(out)),
		minio.PutObjectOptions{ContentType: "image/jpeg", CacheControl: "public, max-age=2592000, immutable"})
	if err != nil {
		return fmt.Errorf("put thumbnail of %s: %w", p.Key, err)
	}
	return nil
}

// ErrTooLarge is returned for images over media.MaxUploadBytes, maxPixels or maxSide.
var ErrTooLarge = errors.New("image too large")

// Thumbnail decodes a JPEG or PNG and returns a JPEG whose longest side is at most side pixels.
func Thumbnail(src []byte, side int) ([]byte, error) {
	if _, _, err := size(src); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	w, h := fit(img.Bounds().Dx(), img.Bounds().Dy(), side)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}

// size reads an image's width and height from its header, without decoding it, and refuses
// one too large.
func size(src []byte) (int, int, error) {
	if len(src) > media.MaxUploadBytes {
		return 0, 0, ErrTooLarge
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return 0, 0, fmt.Errorf("decode: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxSide || cfg.Height > maxSide || cfg.Width*cfg.Height > maxPixels {
		return 0, 0, ErrTooLarge
	}
	return cfg.Width, cfg.Height, nil
}

// cost bounds the bytes a thumbnail of a w×h image holds at once: the decoded image, and the
// scaler's intermediate image (the thumbnail's width by the source's height, 32 bytes a cell).
func cost(w, h int) int64 {
	tw, _ := fit(w, h, ThumbnailSide)
	return int64(w)*int64(h)*bytesPerPixel + int64(tw)*int64(h)*scratchBytes
}

// fit scales w×h down to fit in side×side, keeping the aspect ratio; it never scales up.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, h*side/w)
	}
	return max(1, w*side/h), side
}
