// Package media is the contract between the catalog, which hands out uploads and attaches
// images to products, and the worker, which makes their thumbnails: upload limits and where
// each kind of object lives in the media bucket.
package media

import "strconv"

// MaxUploadBytes bounds an uploaded image: the upload grant's policy refuses more, and the
// worker never reads more.
const MaxUploadBytes = 10 << 20

// ImageTypes maps the accepted upload media types to their file extensions.
var ImageTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png"}

// UploadPrefix is where uploads for product id land. Nobody but the catalog may read them: an
// upload is published (copied under ProductImagePrefix) only once it is attached and checked,
// and one never attached expires after a day.
func UploadPrefix(id int64) string { return "uploads/" + strconv.FormatInt(id, 10) + "/" }

// ProductImagePrefix is where product id's published images live.
func ProductImagePrefix(id int64) string { return "products/" + strconv.FormatInt(id, 10) + "/" }

// ThumbnailKey is where the worker writes the thumbnail of the image at key.
func ThumbnailKey(key string) string { return "thumbs/" + key }
