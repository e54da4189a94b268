package quorum

import "testing"

func TestMajorityTolerance(t *testing.T) {
	tests := []struct {
		n, majority, tolerance int
	}{
		{0, 1, 0}, {1, 1, 0}, {2, 2, 0}, {3, 2, 1}, {4, 3, 1}, {5, 3, 2}, {6, 4, 2}, {7, 4, 3},
	}
	for _, tt := range tests {
		if got := Majority(tt.n); got != tt.majority {
			t.Errorf("Majority(%d) = %d, want %d", tt.n, got, tt.majority)
		}
		if got := Tolerance(tt.n); got != tt.tolerance {
			t.Errorf("Tolerance(%d) = %d, want %d", tt.n, got, tt.tolerance)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name            string
		voters, healthy int
		want            Status
	}{
		{"three healthy", 3, 3, Healthy},
		{"one of three down", 3, 2, AtRisk},
		{"two of three down", 3, 1, Lost},
		{"five, two down", 5, 3, AtRisk},
		{"five, one down", 5, 4, Healthy},
		{"single member", 1, 1, AtRisk},
		{"no voters", 0, 0, Lost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Check(tt.voters, tt.healthy); got != tt.want {
				t.Errorf("Check(%d, %d) = %v, want %v", tt.voters, tt.healthy, got, tt.want)
			}
		})
	}
}
