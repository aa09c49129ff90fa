package httpapi

import (
	"net/http"

	"github.com/CAFxX/httpcompression"
)

// compressedTypes are the text answers worth compressing. Images are compressed already: never
// again. So are answers smaller than compressMinSize: a sold-out problem or a cart line costs
// more CPU to squeeze than bytes it saves, and a flash sale is thousands of those.
var compressedTypes = []string{
	"text/html", "text/css", "text/javascript", "application/json", "application/problem+json", "image/svg+xml",
}

const compressMinSize = 1024

// Compress negotiates brotli or gzip (Accept-Encoding, the server's preference: brotli) for the
// gateway's text answers, proxied ones included, and adds Vary: Accept-Encoding so that the
// edge cache keeps one copy per encoding.
func Compress() (func(http.Handler) http.Handler, error) {
	return httpcompression.Adapter(
		httpcompression.BrotliCompressionLevel(4),
		httpcompression.GzipCompressionLevel(6),
		httpcompression.MinSize(compressMinSize),
		httpcompression.ContentTypes(compressedTypes, false),
		httpcompression.Prefer(httpcompression.PreferServer),
	)
}
