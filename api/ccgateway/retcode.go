package ccgateway

// Retcode is one answer code of the CC-Gateway façade. Vendor says whether
// the meaning is the vendor's own (documented by Huawei) or recvault's
// choice: the vendor lists 108-001 and 108-014 to 108-017 for
// recordfiledownloadEx without publishing what they mean.
type Retcode struct {
	Code    string
	Message string
	Vendor  bool
}

// The retcodes recvault uses, in one table (the README repeats it).
var (
	RetOK              = Retcode{"0", "success", true}
	RetParam           = Retcode{"000-002", "parameter missing or malformed", true}
	RetNoRight         = Retcode{"000-003", "no right to invite resource", true}
	RetNoSuchResource  = Retcode{"000-004", "no such resource", false}
	RetInspectSelf     = Retcode{"000-005", "an inspector cannot inspect itself", true}
	RetSignInBusy      = Retcode{"000-007", "another sign-in of this agent is in progress", true}
	RetSignInParam     = Retcode{"100-001", "sign-in parameters missing or malformed", true}
	RetAlreadySignedIn = Retcode{"100-002", "agent already signed in", true}
	RetBadPassword     = Retcode{"100-004", "wrong work number or password", true}
	RetNotSignedIn     = Retcode{"100-006", "agent not signed in", true}
	RetNotInspected    = Retcode{"104-002", "agent not assigned to this inspector", true}
	RetNoRecord        = Retcode{"108-001", "record file not found", false}
	RetStorage         = Retcode{"108-014", "record file could not be read from storage", false}
	RetConversion      = Retcode{"108-015", "record file could not be converted", false}
	RetTokenInvalid    = Retcode{"108-016", "download token invalid, expired or already used", false}
	RetNotVoice        = Retcode{"108-017", "record file is not of the requested type", false}
)

// Retcodes lists every retcode above, for the README and tests.
var Retcodes = []Retcode{RetOK, RetParam, RetNoRight, RetNoSuchResource, RetInspectSelf, RetSignInBusy,
	RetSignInParam, RetAlreadySignedIn, RetBadPassword, RetNotSignedIn, RetNotInspected, RetNoRecord,
	RetStorage, RetConversion, RetTokenInvalid, RetNotVoice}
