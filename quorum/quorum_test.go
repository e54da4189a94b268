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

func TestDescribe(t *testing.T) {
	tests := []struct {
		voters, healthy, margin int
		want                    string
	}{
		{3, 3, 1, "3 voting members, 3 healthy, can lose 1 more"},
		{3, 2, 0, "3 voting members, 2 healthy, can lose 0 more"},
		{3, 1, -1, "3 voting members, 1 healthy, quorum lost (needs 2)"},
		{5, 5, 2, "5 voting members, 5 healthy, can lose 2 more"},
		{4, 4, 1, "4 voting members, 4 healthy, can lose 1 more"},
		{1, 1, 0, "1 voting member, 1 healthy, can lose 0 more"},
		{0, 0, -1, "0 voting members, 0 healthy, quorum lost (needs 1)"},
	}
	for _, tt := range tests {
		if got := Margin(tt.voters, tt.healthy); got != tt.margin {
			t.Errorf("Margin(%d, %d) = %d, want %d", tt.voters, tt.healthy, got, tt.margin)
		}
		if got := Describe(tt.voters, tt.healthy); got != tt.want {
			t.Errorf("Describe(%d, %d) = %q, want %q", tt.voters, tt.healthy, got, tt.want)
		}
	}
}
