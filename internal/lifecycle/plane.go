package lifecycle

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"lb/internal/balance"
	"lb/internal/config"
	"lb/internal/proxy"
)

// dataPlane is the running configuration: backends, frontends serving the listeners, and
// health checks.
type dataPlane struct {
	p        *process
	eng      *proxy.Engine
	backends map[string]*proxy.Backend
	order    []*proxy.Backend
	// mu guards serving.
	mu       sync.Mutex
	serving  []*proxy.Binding
	monitors []*monitorServer
	checks   *checkSet
}

// startDataPlane builds the backends and frontends of the configuration and starts accepting
// on every proxy listener.
func startDataPlane(p *process) (*dataPlane, error) {
	cfg := p.cfg
	maxconn := cfg.Global.Maxconn
	if p.args.Maxconn > 0 {
		maxconn = p.args.Maxconn
	}
	d := &dataPlane{p: p, backends: map[string]*proxy.Backend{}}
	d.eng = proxy.NewEngine(proxy.EngineConfig{Maxconn: maxconn, Logger: p.log})
	for _, px := range cfg.Backends() {
		be, err := proxy.NewBackend(backendConfig(px))
		if err != nil {
			return nil, fmt.Errorf("%s: backend %q: %w", px.Pos, px.Name, err)
		}
		d.backends[px.Name] = be
		d.order = append(d.order, be)
	}
	logger := newTrafficLogger(p, cfg)
	for _, fe := range cfg.Frontends() {
		if fe.Disabled {
			continue
		}
		if isMonitorOnly(fe) {
			m := newMonitorServer(fe)
			for _, b := range p.lns.Frontends() {
				if b.Frontend == fe {
					m.serve(b.Listener)
				}
			}
			d.monitors = append(d.monitors, m)
			continue
		}
		if fe.Mode == config.ModeHTTP {
			p.log.Warn(fmt.Sprintf("%s: proxy '%s': mode http is served as a TCP tunnel by lb yet (HTTP rules, headers and HTTP logs are not applied)", fe.Pos, fe.Name))
		}
		fc := proxy.FrontendConfig{
			Name:             fe.Name,
			Maxconn:          fe.Maxconn,
			TimeoutClient:    fe.Timeouts.Client,
			TimeoutClientFin: fe.Timeouts.ClientFin,
			Backend:          d.router(fe),
			Log:              logger.forFrontend(fe),
		}
		if fc.Maxconn == 0 && p.args.ProxyMaxconn > 0 {
			fc.Maxconn = p.args.ProxyMaxconn
		}
		f, err := d.eng.NewFrontend(fc)
		if err != nil {
			return nil, fmt.Errorf("%s: frontend %q: %w", fe.Pos, fe.Name, err)
		}
		for _, b := range p.lns.Frontends() {
			if b.Frontend != fe {
				continue
			}
			d.serving = append(d.serving, f.Serve(b.Listener, proxy.BindConfig{Name: b.Bind.Name, AcceptProxy: b.Bind.AcceptProxy}))
		}
	}
	d.checks = startChecks(p, cfg, d)
	return d, nil
}

// router returns the frontend's backend choice: use_backend rules are not evaluated yet in
// tcp mode (conditions need tcp-request content inspection); default_backend, or the listen
// section's own backend.
func (d *dataPlane) router(fe *config.Proxy) func(*proxy.ConnInfo) *proxy.Backend {
	var be *proxy.Backend
	if fe.Cap&config.CapBackend != 0 {
		be = d.backends[fe.Name]
	}
	if fe.DefaultBackend != "" {
		be = d.backends[fe.DefaultBackend]
	}
	for _, ub := range fe.UseBackends {
		if ub.Cond == nil && !ub.Dynamic {
			if b := d.backends[ub.Backend]; b != nil {
				be = b
				break
			}
		}
	}
	return func(*proxy.ConnInfo) *proxy.Backend { return be }
}

func backendConfig(px *config.Proxy) proxy.BackendConfig {
	bc := proxy.BackendConfig{
		Name:             px.Name,
		Balance:          px.Balance.Algorithm,
		BalanceOptions:   balance.Options{AllBackups: px.Options["allbackups"]},
		TimeoutConnect:   px.Timeouts.Connect,
		TimeoutServer:    px.Timeouts.Server,
		TimeoutServerFin: px.Timeouts.ServerFin,
		TimeoutTunnel:    px.Timeouts.Tunnel,
		TimeoutQueue:     px.Timeouts.Queue,
		Retries:          px.Retries,
		Redispatch:       px.Options["redispatch"],
	}
	if px.Balance.Algorithm == "random" && len(px.Balance.Args) > 0 {
		if n, err := strconv.Atoi(px.Balance.Args[0]); err == nil {
			bc.BalanceOptions.Draws = n
		}
	}
	for _, s := range px.Servers {
		sc := proxy.ServerConfig{
			Name:     s.Name,
			ID:       s.ID,
			Weight:   s.Weight,
			Backup:   s.Backup,
			Maxconn:  s.Maxconn,
			Maxqueue: s.Maxqueue,
			Disabled: s.Disabled || s.Unresolved,
		}
		switch {
		case s.Network == "unix":
			sc.Network, sc.Addr = "unix", s.Path
		case len(s.IPs) > 0:
			sc.Addr = net.JoinHostPort(s.IPs[0].String(), strconv.Itoa(s.Port))
		default:
			sc.Addr = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
		}
		switch {
		case s.SendProxyV2:
			sc.SendProxy = proxy.SendProxyV2
		case s.SendProxy:
			sc.SendProxy = proxy.SendProxyV1
		}
		sc.ShutdownOnDown = s.OnMarkedDown == "shutdown-sessions"
		bc.Servers = append(bc.Servers, sc)
	}
	return bc
}

func (d *dataPlane) serversUp() (up, total int) {
	if d == nil {
		return 0, 0
	}
	for _, be := range d.order {
		for _, s := range be.Servers() {
			total++
			if s.State() == proxy.StateUp {
				up++
			}
		}
	}
	return up, total
}

func (d *dataPlane) activeSessions() int {
	if d == nil {
		return 0
	}
	return d.eng.ActiveSessions()
}

// drain waits until every session ended or ctx is done.
func (d *dataPlane) drain(ctx context.Context, spread time.Duration) error {
	if d == nil {
		return nil
	}
	// The listeners are closed already: every accept loop ends; wait for them, so that a
	// connection accepted at the last moment is counted before waiting for sessions.
	d.mu.Lock()
	for _, b := range d.serving {
		b.Stop()
		<-b.Done()
	}
	d.mu.Unlock()
	errc := make(chan error, len(d.monitors))
	for _, m := range d.monitors {
		go func(m *monitorServer) { errc <- m.shutdown(ctx) }(m)
	}
	err := d.eng.Wait(ctx)
	for range d.monitors {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	return err
}

func (d *dataPlane) closeAll() {
	if d == nil {
		return
	}
	d.eng.CloseAll("hard-stop")
	for _, m := range d.monitors {
		m.close()
	}
}

func (d *dataPlane) stop() {
	if d == nil {
		return
	}
	d.checks.stop()
}

func (d *dataPlane) poolLines() []string { return nil }

// stateLines is the SIGHUP dump, HAProxy's words.
func (d *dataPlane) stateLines() []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, be := range d.order {
		for _, s := range be.Servers() {
			st := s.Stats()
			out = append(out, fmt.Sprintf("SIGHUP: Server %s/%s is %s. Conn: %d act, %d pend, %d tot.",
				be.Name(), s.Name(), s.State(), st.Cur, st.Queue, st.Total))
		}
		active, backup := be.UsableServers()
		bs := be.Stats()
		out = append(out, fmt.Sprintf("SIGHUP: Proxy %s has %d active servers and %d backup servers available. Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.",
			be.Name(), active, backup, 0, bs.Cur, bs.Queue, bs.Queue, 0, bs.Total))
	}
	return out
}
