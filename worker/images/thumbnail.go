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

	"github.com/flashcrowd/flashcrowd/contracts/media"
	"github.com/flashcrowd/flashcrowd/contracts/tasks"
)

const (
	// maxPixels guards against decompression bombs: a small file that decodes to gigabytes.
	maxPixels = 40_000_000
	// ThumbnailSide is the longest side of a thumbnail, in pixels.
	ThumbnailSide = 320
)

// Thumbnailer handles thumbnail tasks.
type Thumbnailer struct {
	Store  *minio.Client
	Bucket string
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
	out, err := Thumbnail(src, ThumbnailSide)
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
	if len(src) > media.MaxUploadBytes {
		return nil, ErrTooLarge
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return nil, ErrTooLarge
	}
	img, _, err := image.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	w, h := fit(cfg.Width, cfg.Height, side)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
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
