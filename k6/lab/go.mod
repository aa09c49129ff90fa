module github.com/flashcrowd/flashcrowd/k6/lab

go 1.26
