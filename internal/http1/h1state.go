package http1

// H1State is a state of HAProxy 2.6's H1 message parser (enum h1m_state),
// which "show errors" prints with each captured message.
type H1State uint8

// The states lb's errors map to; the numbers are HAProxy's.
const (
	StateRqBefore   H1State = 0
	StateRqBeforeCR H1State = 1
	StateRqMeth     H1State = 2
	StateRqURI      H1State = 4
	StateRqVer      H1State = 6
	StateRqLineEnd  H1State = 7
	StateRpBefore   H1State = 8
	StateRpBeforeCR H1State = 9
	StateRpVer      H1State = 10
	StateRpCode     H1State = 12
	StateRpReason   H1State = 14
	StateRpLineEnd  H1State = 15
	StateHdrName    H1State = 17
	StateHdrVal     H1State = 22
	StateHdrL2LF    H1State = 23
	StateHdrL2LWS   H1State = 24
	StateLastLF     H1State = 25
	StateChunkSize  H1State = 26
	StateData       H1State = 27
)

var h1StateNames = [...]string{
	"MSG_RQBEFORE", "MSG_RQBEFORE_CR", "MSG_RQMETH", "MSG_RQMETH_SP", "MSG_RQURI", "MSG_RQURI_SP",
	"MSG_RQVER", "MSG_RQLINE_END", "MSG_RPBEFORE", "MSG_RPBEFORE_CR", "MSG_RPVER", "MSG_RPVER_SP",
	"MSG_RPCODE", "MSG_RPCODE_SP", "MSG_RPREASON", "MSG_RPLINE_END", "MSG_HDR_FIRST", "MSG_HDR_NAME",
	"MSG_HDR_COL", "MSG_HDR_L1_SP", "MSG_HDR_L1_LF", "MSG_HDR_L1_LWS", "MSG_HDR_VAL", "MSG_HDR_L2_LF",
	"MSG_HDR_L2_LWS", "MSG_LAST_LF", "MSG_CHUNK_SIZE", "MSG_DATA", "MSG_CHUNK_CRLF", "MSG_TRAILERS",
	"MSG_DONE", "MSG_TUNNEL",
}

// String is HAProxy's h1m_state_str.
func (s H1State) String() string {
	if int(s) < len(h1StateNames) {
		return h1StateNames[s]
	}
	return "MSG_??????"
}

// HAProxy 2.6's H1_MF_* message flags (h1.h), as "show errors" prints them.
const (
	MFClen         = 0x00000001
	MFChnk         = 0x00000002
	MFResp         = 0x00000004
	MFVer11        = 0x00000010
	MFConnClose    = 0x00000020
	MFConnKeepAliv = 0x00000040
	MFConnUpgrade  = 0x00000080
	MFXferLen      = 0x00000100
	MFXferEnc      = 0x00000200
	MFNoPhdr       = 0x00000400
	MFCleanConnHdr = 0x00001000
	MFTEChunked    = 0x00010000
	MFTEOther      = 0x00020000
)

// MsgFlags returns the H1_MF_* flags HAProxy's parser has set on a message
// head lb parsed into m (request or response), for an error found in its
// body: what the head said of its version, length and transfer coding.
func MsgFlags(m *Message, response bool) uint32 {
	f := uint32(MFNoPhdr | MFCleanConnHdr)
	if response {
		f |= MFResp
	}
	if m.Minor == 1 {
		f |= MFVer11
	}
	switch m.Framing {
	case Chunked:
		f |= MFXferEnc | MFChnk | MFXferLen | MFTEChunked
	case Length:
		f |= MFClen | MFXferLen
	}
	return f
}

// h1flags returns the H1_MF_* flags HAProxy's parser has set when it
// stops where p stopped: measured, a valid Content-Length sets CLEN and a
// Transfer-Encoding ending in chunked CHNK, XFER_LEN waits for the head's
// end.
func (p *parser) h1flags() uint32 {
	f := uint32(MFNoPhdr | MFCleanConnHdr)
	if p.resp {
		f |= MFResp
	}
	if p.ver11 {
		f |= MFVer11
	}
	if p.clen {
		f |= MFClen
	}
	if p.xfer {
		f |= MFXferEnc
	}
	if p.chunked {
		f |= MFChnk // XFER_LEN comes with the head's end
	}
	if p.teChunked {
		f |= MFTEChunked
	}
	if p.teOther {
		f |= MFTEOther
	}
	if p.connClose {
		f |= MFConnClose
	}
	if p.connKeepAlive {
		f |= MFConnKeepAliv
	}
	if p.connUpgrade {
		f |= MFConnUpgrade
	}
	return f
}
