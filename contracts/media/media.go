// Package media is the contract between the catalog, which hands out uploads and attaches
// images to products, and the worker, which makes their thumbnails: upload limits and where
// each kind of object lives in the media bucket.
package media

import "strconv"

// MaxUploadBytes bounds an uploaded image: the upload grant refuses more, and the worker never
// reads more.
const MaxUploadBytes = 10 << 20

// ImageTypes maps the accepted upload media types to their file extensions.
var ImageTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png"}

// ProductImagePrefix is where product id's published images live.
func ProductImagePrefix(id int64) string { return "products/" + strconv.FormatInt(id, 10) + "/" }

// ThumbnailKey is where the worker writes the thumbnail of the image at key.
func ThumbnailKey(key string) string { return "thumbs/" + key }
