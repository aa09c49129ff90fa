module github.com/flashcrowd/flashcrowd/infra/webhook-sink

go 1.26.0
