package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// container is what the exporter needs of a running container.
type container struct {
	id, name, service string
}

// dockerClient asks the Docker Engine API, on its Unix socket, for the running containers.
type dockerClient struct{ http *http.Client }

func newDockerClient(socket string) dockerClient {
	return dockerClient{http: &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}}
}

// containers lists the running containers of one compose project.
func (d dockerClient) containers(ctx context.Context, project string) ([]container, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {"com.docker.compose.project=" + project}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://docker/containers/json?filters="+url.QueryEscape(string(filters)), nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("docker: GET /containers/json: %s", resp.Status)
	}
	return decodeContainers(resp.Body)
}

func decodeContainers(body io.Reader) ([]container, error) {
	var raw []struct {
		ID     string            `json:"Id"`
		Names  []string          `json:"Names"`
		Labels map[string]string `json:"Labels"`
	}
	if err := json.NewDecoder(body).Decode(&raw); err != nil {
		return nil, fmt.Errorf("docker: decode container list: %w", err)
	}
	out := make([]container, 0, len(raw))
	for _, r := range raw {
		name := r.ID[:min(12, len(r.ID))]
		if len(r.Names) > 0 {
			name = strings.TrimPrefix(r.Names[0], "/")
		}
		service := r.Labels["com.docker.compose.service"]
		if service == "" {
			service = name
		}
		out = append(out, container{id: r.ID, name: name, service: service})
	}
	return out, nil
}
