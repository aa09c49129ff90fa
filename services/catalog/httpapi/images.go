package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"

	"github.com/flashcrowd/flashcrowd/contracts/media"
	"github.com/flashcrowd/flashcrowd/contracts/tasks"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
)

// uploadTTL is how long a presigned upload URL stays valid.
const uploadTTL = 15 * time.Minute

// Media is the object store as the API uses it.
type Media struct {
	Store Objects // in-network endpoint, for checking uploads
	// Presign signs URLs for the public endpoint: a signature covers the host, so a URL signed
	// for the in-network name would be refused when a browser uses it.
	Presign   Objects
	Bucket    string
	PublicURL string // where clients reach the bucket, e.g. http://127.0.0.1:8080
}

// Objects are the object store calls the image handlers make (*minio.Client); tests fake them.
type Objects interface {
	StatObject(ctx context.Context, bucket, key string, opts minio.StatObjectOptions) (minio.ObjectInfo, error)
	PresignedPutObject(ctx context.Context, bucket, key string, expires time.Duration) (*url.URL, error)
}

func (m Media) url(key string) string { return m.PublicURL + "/" + m.Bucket + "/" + key }

func (m Media) view(p catalog.Product) productView {
	v := productView{Product: p}
	if p.ImageKey != "" {
		v.ImageURL = m.url(p.ImageKey)
		v.ThumbnailURL = m.url(media.ThumbnailKey(p.ImageKey))
	}
	return v
}

type uploadView struct {
	Key       string    `json:"key"`
	Method    string    `json:"method"`
	URL       string    `json:"url"`
	Headers   any       `json:"headers"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleImageUpload hands out a presigned PUT URL for a new image of an existing product.
func handleImageUpload(store Store, c *cache.Cache, objects Media) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := productID(r)
		if err != nil {
			return err
		}
		var in catalog.ImageUpload
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if _, _, err := c.Product(r.Context(), id, store.Product); err != nil {
			return storeProblem(w, err)
		}
		var b [8]byte
		_, _ = rand.Read(b[:])
		key := media.ProductImagePrefix(id) + hex.EncodeToString(b[:]) + media.ImageTypes[in.ContentType]
		u, err := objects.Presign.PresignedPutObject(r.Context(), objects.Bucket, key, uploadTTL)
		if err != nil {
			return err
		}
		web.Respond(w, http.StatusCreated, uploadView{
			Key: key, Method: http.MethodPut, URL: u.String(),
			Headers:   map[string]string{"Content-Type": in.ContentType},
			ExpiresAt: time.Now().Add(uploadTTL).UTC(),
		})
		return nil
	}
}

// handleAttachImage records an uploaded image on its product and queues its thumbnail.
// Calling it again with the same key is harmless: the task id derives from the key.
func handleAttachImage(wr writer, queue *asynq.Client) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := productID(r)
		if err != nil {
			return err
		}
		var in catalog.ImageAttach
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if !strings.HasPrefix(in.Key, media.ProductImagePrefix(id)) {
			return web.Invalid(map[string]string{"key": "is not an upload of this product"})
		}
		if err := checkUpload(r.Context(), wr.media, in.Key); err != nil {
			return err
		}
		p, lsn, err := wr.store.SetImage(r.Context(), id, in.Key)
		if err != nil {
			return storeProblem(w, err)
		}
		wr.written(r.Context(), id, lsn)

		task, err := tasks.NewThumbnailTask(id, in.Key)
		if err == nil {
			_, err = queue.EnqueueContext(r.Context(), task)
		}
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			web.Log(r.Context()).Error("enqueue thumbnail", "product_id", id, "err", err)
			return unavailable(w, "the image is recorded but its thumbnail could not be queued; send this request again")
		}
		web.Respond(w, http.StatusOK, wr.media.view(p))
		return nil
	}
}

// checkUpload makes sure the object exists, is an accepted image type and is not too large.
func checkUpload(ctx context.Context, objects Media, key string) error {
	info, err := objects.Store.StatObject(ctx, objects.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return web.Invalid(map[string]string{"key": "nothing was uploaded under this key"})
		}
		return err
	}
	if _, ok := media.ImageTypes[info.ContentType]; !ok {
		return web.Invalid(map[string]string{"key": "the upload is not image/jpeg or image/png"})
	}
	if info.Size > media.MaxUploadBytes {
		return web.NewProblem(http.StatusRequestEntityTooLarge, "images may be at most %d bytes", media.MaxUploadBytes)
	}
	return nil
}
