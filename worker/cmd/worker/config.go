package main

import (
	"fmt"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/worker/images"
)

// Config is every variable the worker reads; docs/configuration.md shows it (config.Doc).
type Config struct {
	config.Common
	HTTPAddr           string        `env:"HTTP_ADDR" envDefault:":8080" desc:"Health and metrics listener. 'worker healthcheck' probes 127.0.0.1:<port>/healthz."`
	RedisAddr          string        `env:"REDIS_ADDR" envDefault:"redis:6379" desc:"Redis holding the asynq queues."`
	RedisQueueUser     string        `env:"REDIS_QUEUE_USER" envDefault:"queue" desc:"Redis ACL user for the queues (keys asynq:*)."`
	RedisQueuePassword string        `env:"REDIS_QUEUE_PASSWORD,required" secret:"true" desc:"Its password."`
	S3Endpoint         string        `env:"S3_ENDPOINT" envDefault:"http://minio:9000" desc:"Object store the images are read from and the thumbnails written to."`
	S3AccessKey        string        `env:"S3_ACCESS_KEY,required" desc:"Object store access key."`
	S3SecretKey        string        `env:"S3_SECRET_KEY,required" secret:"true" desc:"Object store secret key."`
	S3Bucket           string        `env:"S3_BUCKET" envDefault:"media" desc:"Bucket of images and thumbnails."`
	Concurrency        int           `env:"WORKER_CONCURRENCY" envDefault:"8" desc:"Tasks this instance processes at once (1 to 1000)."`
	DecodeMemoryMiB    int64         `env:"WORKER_DECODE_MEMORY_MIB" envDefault:"256" desc:"MiB that thumbnails in flight may hold together; each waits for its share (8 bytes a pixel decoded, plus the scaler's scratch: at most 251 MB, for a 5000×5000 image; images are at most 25 megapixels and 20000 pixels a side). Keep it below the container's memory limit, with room for the rest of the process."`
	HTTPDrainTimeout   time.Duration `env:"HTTP_DRAIN_TIMEOUT" envDefault:"5s" desc:"On SIGTERM, how long health and metrics requests in flight may take; the task drain follows."`
	TaskDrainTimeout   time.Duration `env:"TASK_DRAIN_TIMEOUT" envDefault:"20s" desc:"On SIGTERM, how long running tasks may finish before asynq hands them back to the queue. With the HTTP drain it must fit compose's 30 s stop grace period."`
}

// Validate checks what the tags cannot.
func (c *Config) Validate() error {
	if c.Concurrency < 1 || c.Concurrency > 1000 {
		return fmt.Errorf("WORKER_CONCURRENCY=%d: want 1 to 1000", c.Concurrency)
	}
	if c.DecodeMemoryMiB<<20 < images.MaxDecodeBytes {
		return fmt.Errorf("WORKER_DECODE_MEMORY_MIB=%d: the largest image accepted needs %d MiB", c.DecodeMemoryMiB, (images.MaxDecodeBytes+1<<20-1)>>20)
	}
	return nil
}
