package lbtest

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

// Slope fits y = a + b·x (x the index of y in ys) by least squares and returns b and its
// standard error; the error is infinite for fewer than 3 points.
func Slope(ys []float64) (slope, stderr float64) {
	n := float64(len(ys))
	if n < 3 {
		return 0, math.Inf(1)
	}
	var sx, sy float64
	for i, y := range ys {
		sx += float64(i)
		sy += y
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i, y := range ys {
		dx := float64(i) - mx
		sxx += dx * dx
		sxy += dx * (y - my)
	}
	slope = sxy / sxx
	var sse float64
	for i, y := range ys {
		r := y - (my + slope*(float64(i)-mx))
		sse += r * r
	}
	return slope, math.Sqrt(sse / (n - 2) / sxx)
}

// SoakTableRow logs a row of the README's faults table made of cells and appends it to
// the file $LB_SOAK_TABLE names, when set.
func SoakTableRow(t testing.TB, cells ...string) {
	t.Helper()
	row := "| " + strings.Join(cells, " | ") + " |"
	t.Logf("faults table: %s", row)
	path := os.Getenv("LB_SOAK_TABLE")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("LB_SOAK_TABLE: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, row); err != nil {
		t.Errorf("LB_SOAK_TABLE: %v", err)
	}
}
