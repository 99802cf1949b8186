package config

// keywordTables returns every keyword table of the language, by name, with
// the status of each keyword: the one view of "what lb accepts" that
// effects_test.go checks against the registry of run-time effects. A
// keyword is named by its table and itself ("option redispatch", "bind
// accept-proxy", "tcp-check expect string").
func keywordTables() map[string]map[string]kwStatus {
	t := map[string]map[string]kwStatus{
		"global":            {},
		"global stats":      globalStatsKeywords,
		"proxy":             {},
		"option":            {},
		"timeout":           {},
		"bind":              {},
		"server":            {},
		"stats":             statsKeywords,
		"balance":           balanceAlgos,
		"hash-type":         hashTypes,
		"log":               logTargetForms,
		"log option":        logOptions,
		"log format":        {},
		"http-check":        checkActions["http-check"],
		"tcp-check":         checkActions["tcp-check"],
		"http-check expect": expectKinds["http-check"],
		"tcp-check expect":  expectKinds["tcp-check"],
		"expect option":     expectOptions,
		"check connect":     {},
		"http-check send":   {},
	}
	for k, v := range globalKeywords {
		t["global"][k] = v.status
	}
	for k, v := range proxyKeywords {
		t["proxy"][k] = v.status
	}
	for k, v := range proxyOptions {
		t["option"][k] = v.status
	}
	for _, k := range timeoutNames {
		t["timeout"][k] = kwSupported
	}
	for k, v := range bindOptions {
		t["bind"][k] = v.status
	}
	for k, v := range serverOptions {
		t["server"][k] = v.status
	}
	for k := range logFormats {
		t["log format"][k] = kwSupported
	}
	for k, v := range checkConnectOptions {
		t["check connect"][k] = v.status
	}
	for k, v := range checkSendOptions {
		t["http-check send"][k] = v.status
	}
	for set, actions := range httpActions {
		t[set] = boolTable(actions)
	}
	for set, actions := range tcpActions {
		t[set] = boolTable(actions)
	}
	return t
}

// boolTable converts a table of supported (true) and unsupported (false)
// actions.
func boolTable(m map[string]bool) map[string]kwStatus {
	out := make(map[string]kwStatus, len(m))
	for k, ok := range m {
		out[k] = kwUnsupported
		if ok {
			out[k] = kwSupported
		}
	}
	return out
}
