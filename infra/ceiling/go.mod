module github.com/flashcrowd/flashcrowd/infra/ceiling

go 1.26
