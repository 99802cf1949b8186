package stats

// Admin is what "stats admin" gives one request of the page.
type Admin struct {
	// Allowed says the condition of "stats admin" holds: the page shows
	// its admin forms and a POST is carried out.
	Allowed bool
	// Actions are the choices of the forms' action list, in order: each
	// a form value and its label (HAProxy's "ready", "Set state to
	// READY", …). The empty choice comes first by itself.
	Actions []Action
	// Post carries out the form posted (the request's body) and returns
	// HAProxy's verdict (DONE, NONE, PART, ERRP, EXCD); gone says the
	// transaction ended while waiting for the body (nothing is sent).
	Post func() (code string, gone bool)
}

// Action is a choice of the admin form's action list.
type Action struct{ Value, Label string }

// statusCodes are the verdicts of a POST the page shows (";st="), as
// HAProxy's stat_status_codes.
var statusCodes = []string{"DENY", "DONE", "ERRP", "EXCD", "NONE", "PART", "UNKN", "IVAL"}

// statusMessages are HAProxy's messages for the verdicts: the class of
// the box and its text.
var statusMessages = map[string][2]string{
	"DONE": {"active_up", "Action processed successfully."},
	"NONE": {"active_going_down", "Nothing has changed."},
	"PART": {"active_going_down", "Action partially processed.<br>Some server names are probably unknown or ambiguous (duplicated names in the backend)."},
	"ERRP": {"active_down", "Action not processed because of invalid parameters.<ul><li>The action is maybe unknown.</li><li>Invalid key parameter (empty or too long).</li><li>The backend name is probably unknown or ambiguous (duplicated names).</li><li>Some server names are probably unknown or ambiguous (duplicated names in the backend).</li></ul>"},
	"EXCD": {"active_down", "<b>Action not processed : the buffer couldn't store all the data.<br>You should retry with less servers at a time.</b>"},
	"DENY": {"active_down", "<b>Action denied.</b>"},
	"IVAL": {"active_down", "<b>Invalid requests (unsupported method or chunked encoded request).</b>"},
	"UNKN": {"active_no_check", "Unexpected result."},
}
