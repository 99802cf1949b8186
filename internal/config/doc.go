// Package config owns lb's configuration language: it reads HAProxy 2.6
// syntax (https://docs.haproxy.org/2.6/configuration.html) into typed,
// validated, immutable structures and reports every problem with its
// file:line, as "haproxy -c" does.
//
// # Entry points
//
// Load reads the -f arguments (files, or directories of *.cfg files) and
// returns the Config with every Diag; ExitCode maps that to "haproxy -c"'s
// status (0 valid, 1 alerts, 2 valid but no listener); EvalCond evaluates a
// ".if" expression for "lb -cc". Diag.String gives the line lb prints:
// "[ALERT] file:line: reason".
//
// # What is read
//
// The lexer follows HAProxy's parse_line(): one keyword per line, '#'
// comments, backslash escapes, single and double quotes, "${VAR}",
// "${VAR-default}" and "${VAR[*]}" expanded inside double quotes only.
// Conditional blocks (.if/.elif/.else/.endif with defined, feature, streq,
// strneq, version_atleast, version_before) and .notice/.warning/.alert are
// handled while reading. Version and Features say what lb claims to be.
//
// Each section has one keyword table (globalKeywords, proxyKeywords,
// proxyOptions, bindOptions, serverOptions, httpActions, tcpActions,
// checkActions, and the smaller ones keywordTables lists). A keyword is
// either parsed into the typed structures, or known to HAProxy but not
// carried out by lb (an alert "'KEYWORD' is not supported by lb yet", so
// nothing is silently ignored), or removed from HAProxy (an alert naming
// the replacement). Anything else gets HAProxy's "unknown keyword" alert.
// Sections other than global, defaults, frontend, backend and listen are
// reported as not supported. A registry in effects_test.go names, for
// every accepted keyword, the test that shows its effect at run time, or
// why it has none: a keyword with neither fails the tests.
//
// # Compatibility choices
//
// Verdicts follow HAProxy 2.6.12, leniencies included: values HAProxy reads
// with atol() ("maxconn x", "weight" without a value) are accepted with a
// warning saying how they were read; garbage after a valid time unit
// ("15min") is a warning; HAProxy's non-fatal "… already specified.
// Continuing." alerts are warnings here. As in HAProxy, a defaults section
// starts from the built-in defaults, a proxy takes the last defaults
// section before it (or the one named with "from"), and the semantic
// checks (backend references, modes, server address resolution) run only
// when parsing raised no alert. Unlike HAProxy, "bind fd@N" is not checked
// to be a socket here: the listener checks it when it takes the fd.
package config
