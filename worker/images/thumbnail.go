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
	// bytesPerPixel is the most a decoded pixel takes: a 16-bit RGBA PNG (NRGBA64).
	bytesPerPixel = 8
	// MaxDecodeBytes is the most memory one decode may hold: the decode budget must allow it.
	MaxDecodeBytes = maxPixels * bytesPerPixel
	// ThumbnailSide is the longest side of a thumbnail, in pixels.
	ThumbnailSide = 320
)

// Thumbnailer handles thumbnail tasks.
type Thumbnailer struct {
	Store  *minio.Client
	Bucket string
	// Decoding holds the bytes the decodes in flight may take, so that a burst of large images
	// waits for memory instead of exceeding the container's limit: each decode acquires its
	// image's pixels × bytesPerPixel first.
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
	px, err := pixels(src)
	if err != nil {
		return fmt.Errorf("image %s: %v: %w", p.Key, err, asynq.SkipRetry) // bad input stays bad
	}
	if err := t.Decoding.Acquire(ctx, int64(px)*bytesPerPixel); err != nil {
		return fmt.Errorf("wait for decode memory: %w", err)
	}
	out, err := Thumbnail(src, ThumbnailSide)
	t.Decoding.Release(int64(px) * bytesPerPixel)
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

// ErrTooLarge is returned for images over media.MaxUploadBytes or maxPixels.
var ErrTooLarge = errors.New("image too large")

// Thumbnail decodes a JPEG or PNG and returns a JPEG whose longest side is at most side pixels.
func Thumbnail(src []byte, side int) ([]byte, error) {
	if _, err := pixels(src); err != nil {
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

// pixels reads an image's size from its header, without decoding it, and refuses one too large.
func pixels(src []byte) (int, error) {
	if len(src) > media.MaxUploadBytes {
		return 0, ErrTooLarge
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return 0, fmt.Errorf("decode: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return 0, ErrTooLarge
	}
	return cfg.Width * cfg.Height, nil
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
