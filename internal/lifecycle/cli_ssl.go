package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"lb/internal/admin"
	"lb/internal/config"
	"lb/internal/tlsconf"
)

// newCertStore is the process's certificate store: the files of every "ssl" bind line.
func newCertStore(cfg *config.Config) *tlsconf.Store {
	var binds []*tlsconf.Bind
	for _, fe := range cfg.Frontends() {
		for _, b := range fe.Binds {
			if b.TLS != nil && b.TLS.Bind != nil {
				binds = append(binds, b.TLS.Bind)
			}
		}
	}
	s := tlsconf.NewStore(binds)
	s.Bases = tlsconf.Bases{Crt: cfg.Global.CRTBase, CA: cfg.Global.CABase}
	return s
}

// registerSSLCommands installs the certificate commands of HAProxy 2.6 (ssl_ckch.c) that
// lb carries out: show, new, set, commit, abort and del of "ssl cert", on the process's
// store, and show, add and del of "ssl crt-list" (ssl_crtlist.c), on its crt-lists.
// Their answers are HAProxy's, word for word.
func registerSSLCommands(srv *admin.Server, certs *tlsconf.Store) {
	srv.Handle(admin.Command{Words: []string{"show", "ssl", "cert"},
		Help:  "show ssl cert [<certfile>]              : display the SSL certificates used in memory, or the details of a file",
		Level: admin.LevelOperator, Denied: "Can't allocate memory!\n",
		Run: func(args []string, w io.Writer) error {
			name := arg(args, 0)
			if name == "" {
				tx, paths := certs.List()
				if tx != "" {
					fmt.Fprintf(w, "# transaction\n*%s\n", tx)
				}
				io.WriteString(w, "# filename\n")
				for _, p := range paths {
					io.WriteString(w, p+"\n")
				}
				return nil
			}
			if dot := strings.LastIndexByte(name, '.'); dot >= 0 && name[dot+1:] == "ocsp" {
				// The OCSP response's details: not lb's.
				return admin.ErrUnknown
			}
			d, ok := certs.Detail(name)
			if !ok {
				return errors.New("Can't display the certificate: Not found or the certificate is a bundle!\n")
			}
			io.WriteString(w, d)
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"set", "ssl", "cert"},
		Help:  "set ssl cert <certfile> <payload>       : replace a certificate file",
		Level: admin.LevelAdmin,
		RunPayload: func(args []string, payload []byte, w io.Writer) error {
			name := arg(args, 0)
			if name == "" || payload == nil {
				return errors.New("'set ssl cert expects a filename and a certificate as a payload\n")
			}
			path, created, err := certs.Set(name, payload)
			var perr tlsconf.PayloadError
			switch {
			case errors.Is(err, tlsconf.ErrStoreUnsupported):
				return admin.ErrUnknown
			case errors.As(err, &perr):
				return fmt.Errorf("%sCan't load the payload\nCan't update %s!\n", perr, name)
			case err != nil:
				return fmt.Errorf("%sCan't update %s!\n", err, name)
			case created:
				fmt.Fprintf(w, "Transaction created for certificate %s!\n", path)
			default:
				fmt.Fprintf(w, "Transaction updated for certificate %s!\n", path)
			}
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"commit", "ssl", "cert"},
		Help:  "commit ssl cert <certfile>              : commit a certificate file",
		Level: admin.LevelAdmin,
		Run: func(args []string, w io.Writer) error {
			name := arg(args, 0)
			if name == "" {
				return errors.New("'commit ssl cert expects a filename\n")
			}
			n, err := certs.Commit(name)
			if err != nil {
				return fmt.Errorf("%sCan't commit %s!\n", err, name)
			}
			// One dot per instance rebuilt, as HAProxy.
			fmt.Fprintf(w, "Committing %s%s\nSuccess!\n", name, strings.Repeat(".", n))
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"new", "ssl", "cert"},
		Help:  "new ssl cert <certfile>                 : create a new certificate file to be used in a crt-list or a directory",
		Level: admin.LevelAdmin,
		Run: func(args []string, w io.Writer) error {
			name := arg(args, 0)
			if name == "" {
				return errors.New("'new ssl cert' expects a filename\n")
			}
			if err := certs.New(name); err != nil {
				return err
			}
			fmt.Fprintf(w, "New empty certificate store '%s'!\n", name)
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"del", "ssl", "cert"},
		Help:  "del ssl cert <certfile>                 : delete an unused certificate file",
		Level: admin.LevelAdmin,
		Run: func(args []string, w io.Writer) error {
			name := arg(args, 0)
			if name == "" {
				return errors.New("'del ssl cert' expects a certificate name\n")
			}
			if err := certs.Delete(name); err != nil {
				return err
			}
			fmt.Fprintf(w, "Certificate '%s' deleted!\n", name)
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"abort", "ssl", "cert"},
		Help:  "abort ssl cert <certfile>               : abort a transaction for a certificate file",
		Level: admin.LevelAdmin,
		Run: func(args []string, w io.Writer) error {
			name := arg(args, 0)
			if name == "" {
				return errors.New("'abort ssl cert' expects a filename\n")
			}
			if err := certs.Abort(name); err != nil {
				return err
			}
			fmt.Fprintf(w, "Transaction aborted for certificate '%s'!\n", name)
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"show", "ssl", "crt-list"},
		Help:  "show ssl crt-list [-n] [<list>]         : show the list of crt-lists or the content of a crt-list file <list>",
		Level: admin.LevelAdmin,
		Run: func(args []string, w io.Writer) error {
			name, lines := arg(args, 0), false
			if name == "-n" {
				name, lines = arg(args, 1), true
				if name == "" {
					return errors.New("'show ssl crt-list -n' expects a filename or a directory\n")
				}
			}
			if name == "" {
				for _, n := range certs.CrtLists() {
					io.WriteString(w, n+"\n")
				}
				return nil
			}
			out, ok := certs.ShowCrtList(name, lines)
			if !ok {
				return errors.New("didn't find the specified filename\n")
			}
			io.WriteString(w, out)
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"add", "ssl", "crt-list"},
		Help:  "add ssl crt-list <list> <cert> [opts]*  : add to crt-list file <list> a line <cert> or a payload",
		Level: admin.LevelAdmin,
		RunPayload: func(args []string, payload []byte, w io.Writer) error {
			list, line := arg(args, 0), arg(args, 1)
			if list == "" || (payload == nil && line == "") {
				return errors.New("'add ssl crtlist' expects a filename and a certificate name\n")
			}
			// Without a payload, HAProxy takes the certificate alone and
			// ignores the words after it.
			if payload != nil {
				if strings.Contains(string(payload), "\n") {
					return errors.New("Can't edit the crt-list: only one line of payload is supported!\n")
				}
				line = string(payload)
			}
			res, err := certs.AddCrtList(list, line)
			if err != nil {
				return fmt.Errorf("Can't edit the crt-list: %s\n", err)
			}
			// One dot per bind line, as HAProxy.
			fmt.Fprintf(w, "Inserting certificate '%s' in crt-list '%s'%s\n", res.Cert, res.List, strings.Repeat(".", res.Binds))
			if res.Failed != "" {
				io.WriteString(w, res.Failed+"Failed!\n")
				return nil
			}
			io.WriteString(w, "Success!\n")
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"del", "ssl", "crt-list"},
		Help:  "del ssl crt-list <list> <cert[:line]>   : delete a line <cert> from crt-list file <list>",
		Level: admin.LevelAdmin,
		Run: func(args []string, w io.Writer) error {
			list, crt := arg(args, 0), arg(args, 1)
			if list == "" || crt == "" {
				return errors.New("'del ssl crtlist' expects a filename and a certificate name\n")
			}
			name, err := certs.DelCrtList(list, crt)
			if err != nil {
				return fmt.Errorf("Can't delete the entry: %s\n", err)
			}
			fmt.Fprintf(w, "Entry '%s' deleted in crtlist '%s'!\n", name, strings.TrimRight(list, "/"))
			return nil
		}})
}
