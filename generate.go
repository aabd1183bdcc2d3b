// Package fhec ...
package fhec

//go:generate go run ./internal/gen -csv ../shared/testdata/datasets/sklearn/breast_cancer.csv -out testdata/demo
