// Package freeport asks the kernel for unused TCP ports on 127.0.0.1, for
// the processes the demo and the tests start (etcd, kube-apiserver, Gitea,
// serve).
package freeport

import "net"

// Port returns one unused port.
func Port() (int, error) {
	ps, err := Ports(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// Ports returns n distinct unused ports: each listener is held until all
// are chosen, so none is returned twice.
func Ports(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
