package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

// uploadTTL is how long an upload grant stays valid.
const uploadTTL = 15 * time.Minute

// Media is the object store as the API uses it.
type Media struct {
	Store Objects // in-network endpoint: checks, publishes and deletes objects
	// Presign signs upload grants for the public endpoint, the address browsers post to.
	Presign   Objects
	Bucket    string
	PublicURL string // where clients reach the bucket, e.g. http://127.0.0.1:8080
}

// Objects are the object store calls the image handlers make (*minio.Client); tests fake them.
type Objects interface {
	StatObject(ctx context.Context, bucket, key string, opts minio.StatObjectOptions) (minio.ObjectInfo, error)
	PresignedPostPolicy(ctx context.Context, p *minio.PostPolicy) (*url.URL, map[string]string, error)
	CopyObject(ctx context.Context, dst minio.CopyDestOptions, src minio.CopySrcOptions) (minio.UploadInfo, error)
	RemoveObject(ctx context.Context, bucket, key string, opts minio.RemoveObjectOptions) error
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

// removeImage deletes a published image and its thumbnail, and the edge's copies of them (the
// edge caches media like any public answer). The product no longer shows them, so a failure
// only leaves an orphan behind: it is logged, not returned.
func (wr writer) removeImage(ctx context.Context, key string) {
	for _, k := range []string{key, media.ThumbnailKey(key)} {
		if err := wr.media.Store.RemoveObject(ctx, wr.media.Bucket, k, minio.RemoveObjectOptions{}); err != nil {
			web.Log(ctx).Warn("remove image", "key", k, "err", err)
		}
		if err := wr.purge.Path(ctx, "/"+wr.media.Bucket+"/"+k); err != nil {
			web.Log(ctx).Warn("edge cache purge failed", "key", k, "err", err)
		}
	}
}

// uploadView is an upload grant: POST a multipart form to URL with Fields, then the file (as the
// last field, "file"). The grant's policy fixes the key, the content type and the size (1 byte
// to media.MaxUploadBytes); the object store refuses anything else.
type uploadView struct {
	Key       string            `json:"key"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// handleImageUpload grants one upload of a new image for an existing product.
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
		if _, _, err := c.Product(r.Context(), id, productLoader(store, objects, id)); err != nil {
			return storeProblem(err)
		}
		var b [8]byte
		_, _ = rand.Read(b[:])
		key := media.UploadPrefix(id) + hex.EncodeToString(b[:]) + media.ImageTypes[in.ContentType]
		expires := time.Now().Add(uploadTTL).UTC()
		policy := minio.NewPostPolicy()
		for _, err := range []error{
			policy.SetBucket(objects.Bucket), policy.SetKey(key), policy.SetExpires(expires),
			policy.SetContentType(in.ContentType), policy.SetContentLengthRange(1, media.MaxUploadBytes),
			redirect(policy, objects.PublicURL, in.ReturnPath),
		} {
			if err != nil {
				return fmt.Errorf("upload policy: %w", err)
			}
		}
		u, fields, err := objects.Presign.PresignedPostPolicy(r.Context(), policy)
		if err != nil {
			return err
		}
		web.Respond(w, http.StatusCreated, uploadView{Key: key, Method: http.MethodPost, URL: u.String(), Fields: fields, ExpiresAt: expires})
		return nil
	}
}

// redirect makes the policy send a browser's form upload on to returnPath, on the shop's
// public address, when there is one.
func redirect(p *minio.PostPolicy, publicURL, returnPath string) error {
	if returnPath == "" {
		return nil
	}
	return p.SetSuccessActionRedirect(publicURL + returnPath)
}

// handleAttachImage publishes an uploaded image as its product's image and queues its
// thumbnail. The upload is checked, copied under products/ (the only images anyone may read)
// and removed; the product's previous image goes. Calling it again with the same key is
// harmless: it finds the image already published, and the task id derives from the key.
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
		name, ok := strings.CutPrefix(in.Key, media.UploadPrefix(id))
		if !ok || name == "" || strings.Contains(name, "/") {
			return web.Invalid(map[string]string{"key": "is not an upload of this product"})
		}
		published := media.ProductImagePrefix(id) + name
		p, err := wr.store.Current(r.Context(), id)
		if err != nil {
			return storeProblem(err)
		}
		if p.ImageKey != published {
			if err := checkUpload(r.Context(), wr.media, in.Key); err != nil {
				return err
			}
			if _, err := wr.media.Store.CopyObject(r.Context(),
				minio.CopyDestOptions{Bucket: wr.media.Bucket, Object: published},
				minio.CopySrcOptions{Bucket: wr.media.Bucket, Object: in.Key}); err != nil {
				return fmt.Errorf("publish %s: %w", in.Key, err)
			}
			// previous is what this write replaced, read under the row's lock: another attach at
			// the same moment removes only what it replaced, so no image is orphaned.
			var previous, lsn string
			if p, previous, lsn, err = wr.store.SetImage(r.Context(), id, published); err != nil {
				return storeProblem(err)
			}
			wr.written(r.Context(), id, lsn)
			if err := wr.media.Store.RemoveObject(r.Context(), wr.media.Bucket, in.Key, minio.RemoveObjectOptions{}); err != nil {
				web.Log(r.Context()).Warn("remove attached upload", "key", in.Key, "err", err) // it expires in a day
			}
			if previous != "" && previous != published {
				wr.removeImage(r.Context(), previous)
			}
		}

		task, err := tasks.NewThumbnailTask(id, published)
		if err == nil {
			_, err = queue.EnqueueContext(r.Context(), task)
		}
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			web.Log(r.Context()).Error("enqueue thumbnail", "product_id", id, "err", err)
			return unavailable("the image is recorded but its thumbnail could not be queued; send this request again")
		}
		web.Respond(w, http.StatusOK, wr.media.view(p))
		return nil
	}
}

// checkUpload makes sure the object exists, is an accepted image type and is not too large
// (the grant's policy already bounds both; this holds whatever granted the upload).
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
