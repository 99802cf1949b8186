package lbtest

import (
	"math"
	"testing"
)

func TestSlope(t *testing.T) {
	if b, se := Slope([]float64{3, 5, 7, 9}); b != 2 || se != 0 {
		t.Errorf("a line: slope %v ± %v; want 2 ± 0", b, se)
	}
	if b, se := Slope([]float64{1, 3, 2, 4}); math.Abs(b-0.8) > 1e-12 || se <= 0 {
		t.Errorf("scattered points: slope %v ± %v; want 0.8 and an error", b, se)
	}
	if _, se := Slope([]float64{1, 2}); !math.IsInf(se, 1) {
		t.Errorf("two points: error %v; want +Inf", se)
	}
}
