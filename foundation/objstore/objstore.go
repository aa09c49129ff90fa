// Package objstore connects to the S3-compatible object store (MinIO here) that holds product
// images and thumbnails.
package objstore

import (
	"fmt"
	"net/url"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Region is fixed so that presigning never asks the server for a bucket's location: the
// public endpoint used for presigned URLs may not be reachable from inside the network.
const Region = "us-east-1"

// New returns a client for endpoint, a URL such as http://minio:9000.
func New(endpoint, accessKey, secretKey string) (*minio.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("object store endpoint %q: want http(s)://host[:port]", endpoint)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure: u.Scheme == "https",
		Region: Region,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", endpoint, err)
	}
	return c, nil
}
