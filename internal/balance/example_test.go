package balance_test

import (
	"fmt"

	"lb/internal/balance"
)

func ExampleNew() {
	srvs := []balance.Server{
		{ID: 1, Weight: 5, Usable: true},
		{ID: 2, Weight: 1, Usable: true},
		{ID: 3, Weight: 1, Usable: true},
		{ID: 4, Weight: 1, Usable: true, Backup: true},
	}
	rr, _ := balance.New("roundrobin", balance.Options{})
	var ids []int
	for range 7 {
		ids = append(ids, srvs[rr.Pick(srvs, 0)].ID)
	}
	fmt.Println(ids)
	// Every active server down: the first backup takes over.
	for i := range 3 {
		srvs[i].Usable = false
	}
	fmt.Println(srvs[rr.Pick(srvs, 0)].ID)
	// Output:
	// [1 1 2 1 3 1 1]
	// 4
}
