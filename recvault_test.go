package recvault

import "testing"

// TestMayAccess checks the one access rule for every role against every
// relation a recording can have to the user, both ways.
func TestMayAccess(t *testing.T) {
	// The user under test is agent 4977's colleague set-up: agent id 4900,
	// supervising campaign 110, inspecting agent 4977.
	rec := func(campaign int64, agent string) *Recording {
		return &Recording{ID: "r", CampaignID: campaign, AgentID: agent}
	}
	own := rec(200, "4900")              // the user's own call, outside its campaign
	otherAgent := rec(200, "5001")       // another agent's call, other campaign
	assignedCampaign := rec(110, "5001") // another agent's call in the assigned campaign
	otherCampaign := rec(120, "5002")    // neither campaign nor agent is related
	inspected := rec(200, "4977")        // a call of the inspected agent
	notInspected := rec(200, "4978")     // a call of an agent not inspected
	ownInCampaign := rec(110, "4900")    // own call inside the assigned campaign
	user := func(role Role) *Principal {
		return &Principal{User: &User{Login: "u", Role: role, AgentID: "4900",
			Campaigns: []int64{110}, Inspects: []string{"4977"}}}
	}
	cases := []struct {
		name string
		p    *Principal
		r    *Recording
		want bool
	}{
		{"agent/own", user(RoleAgent), own, true},
		{"agent/other agent", user(RoleAgent), otherAgent, false},
		{"agent/assigned campaign (agents have none)", user(RoleAgent), assignedCampaign, false},
		{"agent/other campaign", user(RoleAgent), otherCampaign, false},
		{"agent/inspected agent (agents inspect none)", user(RoleAgent), inspected, false},
		{"agent/not inspected", user(RoleAgent), notInspected, false},

		{"supervisor/own outside campaign", user(RoleSupervisor), own, false},
		{"supervisor/own in campaign", user(RoleSupervisor), ownInCampaign, true},
		{"supervisor/other agent", user(RoleSupervisor), otherAgent, false},
		{"supervisor/assigned campaign", user(RoleSupervisor), assignedCampaign, true},
		{"supervisor/other campaign", user(RoleSupervisor), otherCampaign, false},
		{"supervisor/inspected agent", user(RoleSupervisor), inspected, false},
		{"supervisor/not inspected", user(RoleSupervisor), notInspected, false},

		{"inspector/own (never itself)", user(RoleInspector), own, false},
		{"inspector/other agent", user(RoleInspector), otherAgent, false},
		{"inspector/assigned campaign (inspectors have none)", user(RoleInspector), assignedCampaign, false},
		{"inspector/other campaign", user(RoleInspector), otherCampaign, false},
		{"inspector/inspected agent", user(RoleInspector), inspected, true},
		{"inspector/not inspected", user(RoleInspector), notInspected, false},

		{"admin/own", user(RoleAdmin), own, true},
		{"admin/other agent", user(RoleAdmin), otherAgent, true},
		{"admin/assigned campaign", user(RoleAdmin), assignedCampaign, true},
		{"admin/other campaign", user(RoleAdmin), otherCampaign, true},
		{"admin/inspected agent", user(RoleAdmin), inspected, true},
		{"admin/not inspected", user(RoleAdmin), notInspected, true},

		{"nil principal", nil, own, false},
		{"unknown role", user("root"), own, false},
		{"nil recording", user(RoleAdmin), nil, false},
	}
	for _, c := range cases {
		if got := c.p.MayAccess(c.r); got != c.want {
			t.Errorf("%s: MayAccess = %v, want %v", c.name, got, c.want)
		}
	}
	// A disabled user may read nothing, whatever its role.
	for _, role := range Roles {
		p := user(role)
		p.User.Disabled = true
		for _, r := range []*Recording{own, otherAgent, assignedCampaign, otherCampaign, inspected, notInspected} {
			if p.MayAccess(r) {
				t.Errorf("disabled %s may access %+v", role, r)
			}
		}
	}
	// An inspector assigned to itself still never inspects itself.
	p := user(RoleInspector)
	p.User.Inspects = append(p.User.Inspects, "4900")
	if p.MayAccess(own) {
		t.Error("inspector assigned to itself may read its own calls")
	}
	// An agent without an agent id sees nothing (not every recording with an empty agent).
	p = user(RoleAgent)
	p.User.AgentID = ""
	if p.MayAccess(rec(1, "")) {
		t.Error("agent without agent id matched a recording without agent")
	}
}

func TestUserValidate(t *testing.T) {
	ok := []User{
		{Login: "a@example.com", Role: RoleAgent, AgentID: "4977"},
		{Login: "sup", Role: RoleSupervisor, Campaigns: []int64{110}},
		{Login: "insp", Role: RoleInspector, AgentID: "4900", Inspects: []string{"4977"}},
		{Login: "root", Role: RoleAdmin},
	}
	for _, u := range ok {
		if err := u.Validate(); err != nil {
			t.Errorf("%+v: %v", u, err)
		}
	}
	bad := []User{
		{Login: "", Role: RoleAdmin},
		{Login: "has space", Role: RoleAdmin},
		{Login: "x", Role: "root"},
		{Login: "x", Role: RoleAgent},
		{Login: "x", Role: RoleSupervisor, Campaigns: []int64{0}},
		{Login: "x", Role: RoleInspector, AgentID: "4900", Inspects: []string{"4900"}},
	}
	for _, u := range bad {
		if err := u.Validate(); ErrorCode(err) != EINVALID {
			t.Errorf("%+v: got %v, want EINVALID", u, err)
		}
	}
}

func TestNormalizeVendorPath(t *testing.T) {
	for in, want := range map[string]string{
		`y:\1\0\20181217\120\1524488.V3`:    "Y:/1/0/20181217/120/1524488.V3",
		"Y:/90/0/20210519/4977/1642329.mp4": "Y:/90/0/20210519/4977/1642329.mp4",
		"y:/90/0/20210519/4977/1642329.mp4": "Y:/90/0/20210519/4977/1642329.mp4",
		"":                                  "",
		"relative/path.wav":                 "relative/path.wav",
	} {
		if got := NormalizeVendorPath(in); got != want {
			t.Errorf("NormalizeVendorPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorCodesAndMessages(t *testing.T) {
	if ErrorCode(nil) != "" || ErrorMessage(nil) != "" {
		t.Fatal("nil error has a code")
	}
	e := Errorf(ENOTFOUND, "recording %s not found", "x")
	if ErrorCode(e) != ENOTFOUND || ErrorMessage(e) != "recording x not found" {
		t.Fatalf("%v", e)
	}
	in := Internal(errTest("disk on fire at /var/secret"))
	if ErrorCode(in) != EINTERNAL || ErrorMessage(in) != "Internal error." {
		t.Fatalf("internal error leaks: %q", ErrorMessage(in))
	}
	if ErrorCode(errTest("plain")) != EINTERNAL || ErrorMessage(errTest("plain")) != "Internal error." {
		t.Fatal("plain errors must read as internal")
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
