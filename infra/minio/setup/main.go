// Command minio-setup is compose's one-shot service of that name (the MinIO image, another
// entrypoint), and with MinIO itself the only program that holds MinIO's root credentials.
// Once the server (MINIO_ENDPOINT) is ready it makes the media bucket and what guards it,
// idempotently, at every `make up`:
//
//   - anonymous read of published media only (products/ and thumbs/), never of uploads/ or
//     reports/ (sales reports: the bucket's policy names the public prefixes, nothing else);
//   - uploads that were never attached expire after a day (a lifecycle rule);
//   - one user per application with a policy that covers only what that application does:
//     catalog  grants uploads, checks and publishes them (uploads/ → products/), deletes images;
//     worker   reads published images and writes their thumbnails and the sales reports.
//
// and the backups bucket, private, with the one user that may use it:
//
//	pgbackrest  lists, reads, writes and deletes in it (backups and archived WAL, docs/backups.md).
//
// It then exits 0: what needs the buckets and users (catalog, worker, backup) starts after it
// has completed, so MinIO needs no periodic healthcheck, each a `docker exec` that costs CPU.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

const region = "us-east-1" // as the apps' clients (foundation/objstore)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "minio-setup:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	endpoint := getenv("MINIO_ENDPOINT")
	root, rootSecret := getenv("MINIO_ROOT_USER"), getenv("MINIO_ROOT_PASSWORD")
	bucket := getenv("MINIO_BUCKET")
	backups := getenv("MINIO_BACKUP_BUCKET")
	users := map[string]string{"catalog": getenv("MINIO_CATALOG_PASSWORD"), "worker": getenv("MINIO_WORKER_PASSWORD"),
		"pgbackrest": getenv("MINIO_PGBACKREST_PASSWORD")}
	for name, v := range map[string]string{"MINIO_ENDPOINT": endpoint, "MINIO_ROOT_USER": root, "MINIO_ROOT_PASSWORD": rootSecret,
		"MINIO_BUCKET": bucket, "MINIO_BACKUP_BUCKET": backups, "MINIO_CATALOG_PASSWORD": users["catalog"],
		"MINIO_WORKER_PASSWORD": users["worker"], "MINIO_PGBACKREST_PASSWORD": users["pgbackrest"]} {
		if v == "" {
			return fmt.Errorf("%s must be set", name)
		}
	}
	if err := waitReady(ctx, endpoint); err != nil {
		return err
	}
	s3, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(root, rootSecret, ""), Region: region})
	if err != nil {
		return err
	}
	if err := setupBucket(ctx, s3, bucket); err != nil {
		return err
	}
	// Private: no bucket policy, so nothing in it is public, and no lifecycle rule (pgBackRest
	// expires what its retention no longer needs).
	if err := makeBucket(ctx, s3, backups); err != nil {
		return err
	}
	adm, err := madmin.New(endpoint, root, rootSecret, false)
	if err != nil {
		return err
	}
	for _, u := range []struct {
		name       string
		statements []statement
	}{
		{"catalog", []statement{
			allow(bucket, []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}, "uploads/*"),  // grant (POST policy), check, copy from
			allow(bucket, []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}, "products/*"), // publish, delete
			allow(bucket, []string{"s3:DeleteObject"}, "thumbs/*"),                                   // a deleted product's thumbnails
		}},
		{"worker", []statement{
			allow(bucket, []string{"s3:GetObject"}, "products/*"),
			allow(bucket, []string{"s3:PutObject"}, "thumbs/*"),
			allow(bucket, []string{"s3:PutObject"}, "reports/*"), // the scheduled sales reports (CSV)
		}},
		{"pgbackrest", []statement{
			{Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{"arn:aws:s3:::" + backups}},
			allow(backups, []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}, "*"),
		}},
	} {
		if err := setupUser(ctx, adm, "flashcrowd-"+u.name, u.name, users[u.name], u.statements); err != nil {
			return err
		}
	}
	fmt.Println("minio-setup: buckets", bucket, "and", backups, "and users catalog, worker, pgbackrest ready")
	return nil
}

func waitReady(ctx context.Context, endpoint string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+endpoint+"/minio/health/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("MinIO did not become ready")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// makeBucket makes bucket unless it exists.
func makeBucket(ctx context.Context, s3 *minio.Client, bucket string) error {
	ok, err := s3.BucketExists(ctx, bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, err)
	}
	if !ok {
		if err := s3.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: region}); err != nil {
			return fmt.Errorf("make bucket %s: %w", bucket, err)
		}
	}
	return nil
}

func setupBucket(ctx context.Context, s3 *minio.Client, bucket string) error {
	if err := makeBucket(ctx, s3, bucket); err != nil {
		return err
	}
	// Anyone may read published images and thumbnails; uploads stay private until attached.
	public := policy{Version: "2012-10-17", Statement: []statement{{
		Effect: "Allow", Principal: map[string][]string{"AWS": {"*"}}, Action: []string{"s3:GetObject"},
		Resource: []string{"arn:aws:s3:::" + bucket + "/products/*", "arn:aws:s3:::" + bucket + "/thumbs/*"},
	}}}
	b, _ := json.Marshal(public)
	if err := s3.SetBucketPolicy(ctx, bucket, string(b)); err != nil {
		return fmt.Errorf("bucket %s policy: %w", bucket, err)
	}
	// An upload that is never attached is removed a day later (MinIO's scanner applies it).
	lc := lifecycle.NewConfiguration()
	lc.Rules = []lifecycle.Rule{{
		ID: "expire-unattached-uploads", Status: "Enabled",
		RuleFilter:                     lifecycle.Filter{Prefix: "uploads/"},
		Expiration:                     lifecycle.Expiration{Days: 1},
		AbortIncompleteMultipartUpload: lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: 1},
	}}
	if err := s3.SetBucketLifecycle(ctx, bucket, lc); err != nil {
		return fmt.Errorf("bucket %s lifecycle: %w", bucket, err)
	}
	return nil
}

func setupUser(ctx context.Context, adm *madmin.AdminClient, policyName, user, secret string, st []statement) error {
	b, _ := json.Marshal(policy{Version: "2012-10-17", Statement: st})
	if err := adm.AddCannedPolicy(ctx, policyName, b); err != nil {
		return fmt.Errorf("policy %s: %w", policyName, err)
	}
	// AddUser sets the secret again on every start, so a changed password in .env takes effect.
	if err := adm.AddUser(ctx, user, secret); err != nil {
		return fmt.Errorf("user %s: %w", user, err)
	}
	//nolint:staticcheck // SetPolicy replaces the user's policies, which is what a rerun needs;
	// AttachPolicy fails when the policy is already attached.
	if err := adm.SetPolicy(ctx, policyName, user, false); err != nil {
		return fmt.Errorf("attach %s to %s: %w", policyName, user, err)
	}
	return nil
}

type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Effect    string              `json:"Effect"`
	Principal map[string][]string `json:"Principal,omitempty"`
	Action    []string            `json:"Action"`
	Resource  []string            `json:"Resource"`
}

func allow(bucket string, actions []string, prefix string) statement {
	return statement{Effect: "Allow", Action: actions, Resource: []string{"arn:aws:s3:::" + bucket + "/" + prefix}}
}
