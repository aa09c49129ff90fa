package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	labels  = []string{"service", "container"}
	cpuDesc = prometheus.NewDesc("container_cpu_usage_seconds_total",
		"CPU time the container's processes used, user and system.", labels, nil)
	workingSetDesc = prometheus.NewDesc("container_memory_working_set_bytes",
		"Memory the container uses, less the page cache the kernel may reclaim first.", labels, nil)
	rssDesc = prometheus.NewDesc("container_memory_rss_bytes",
		"Anonymous memory of the container's processes (heaps, stacks).", labels, nil)
	upDesc = prometheus.NewDesc("container_exporter_docker_up",
		"1 when the last scrape could list the containers from Docker, else 0.", nil, nil)
)

// collector reads every container's figures when it is scraped: no polling between scrapes.
type collector struct {
	list   func(context.Context) ([]container, error)
	cgroup cgroupFS
	log    *slog.Logger
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cpuDesc, workingSetDesc, rssDesc, upDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	list, err := c.list(ctx)
	if err != nil {
		c.log.Error("list containers", "err", err)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for _, k := range list {
		s, err := c.cgroup.read(k.id)
		if err != nil {
			// It may have stopped since the list: skip it this time.
			c.log.Warn("read cgroup", "container", k.name, "err", err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, s.cpuSeconds, k.service, k.name)
		ch <- prometheus.MustNewConstMetric(workingSetDesc, prometheus.GaugeValue, s.workingSet, k.service, k.name)
		ch <- prometheus.MustNewConstMetric(rssDesc, prometheus.GaugeValue, s.rss, k.service, k.name)
	}
}
