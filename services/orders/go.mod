module github.com/flashcrowd/flashcrowd/services/orders

go 1.26.0

replace github.com/flashcrowd/flashcrowd/foundation => ../../foundation

replace github.com/flashcrowd/flashcrowd/contracts => ../../contracts
