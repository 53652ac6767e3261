package objecttype

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// This file holds one definition per object type. Header spellings live
// here and nowhere else. Where the sources are silent or unconfirmed, the
// choice made is written in the type's Notes.

func nameCol(extra string, letterFirst bool, example string) Column {
	return Column{Key: "name", Header: "Name", Kind: Name, Required: true, Check: namePattern(extra, letterFirst),
		Doc: "Unique name (matched ignoring case and extra spaces); at most 80 characters.", Example: example}
}

func descCol(example string) Column {
	return Column{Key: "description", Header: "Description", Kind: Text, MaxLen: MaxDescriptionLen,
		Doc: "Free text, at most 255 characters.", Example: example}
}

func tzCol() Column {
	return Column{Key: "timezone", Header: "Timezone", Aliases: []string{"Time Zone"}, Kind: Timezone,
		Doc: "IANA time zone name.", Example: "America/New_York"}
}

func slaCol() Column {
	return Column{Key: "serviceLevelThreshold", Header: "Service Level Threshold", Kind: Integer, Min: 0, Max: 86400,
		Doc: "Seconds.", Example: "30"}
}

func boolCol(key, header, doc string) Column {
	return Column{Key: key, Header: header, Kind: Boolean, Doc: doc, Example: "false"}
}

// ynCol is a GAX Y/N column: a Boolean written Y or N.
func ynCol(key, header string, required bool, doc, example string) Column {
	return Column{Key: key, Header: header, Kind: Boolean, Spelling: SpellYN, Required: required, Doc: doc, Example: example}
}

func refCol(key, header, ref, doc, example string) Column {
	return Column{Key: key, Header: header, Kind: Ref, Ref: ref, Doc: doc, Example: example}
}

func intCol(key, header string, min, max int64, doc, example string) Column {
	return Column{Key: key, Header: header, Kind: Integer, Min: min, Max: max, Doc: doc, Example: example}
}

// need reports a problem when field key is empty.
func need(f map[string]string, t *Type, key, why string) []Problem {
	if f[key] != "" {
		return nil
	}
	c, _ := t.Column(key)
	return []Problem{{Code: CodeRequired, Column: c.Header, Message: "is required " + why}}
}

// forbid reports a problem when field key is set.
func forbid(f map[string]string, t *Type, key, why string) []Problem {
	if f[key] == "" {
		return nil
	}
	c, _ := t.Column(key)
	return []Problem{{Code: CodeConflict, Column: c.Header, Message: "must be blank " + why, Hint: "leave the cell empty, or write " + ClearToken + " to remove a stored value"}}
}

var (
	dialedNumberRe = regexp.MustCompile(`^\+[0-9][0-9.\-]*$`)
	sipURIRe       = regexp.MustCompile(`^sips?:[^@\s]+@[^@\s]+$`)
	extensionRe    = regexp.MustCompile(`^[0-9*#]{1,20}$`)
)

func phoneOrSIP(v string) string {
	if sipURIRe.MatchString(v) {
		return ""
	}
	c := Column{Kind: Phone}
	if _, p := c.one(v); p != nil {
		return fmt.Sprintf("%q is neither a phone number nor a SIP URI", v)
	}
	return ""
}

// pairValues returns a Check for Pairs columns that checks each value.
func pairValues(check func(string) string) func(string) string {
	return func(v string) string {
		_, val, _ := strings.Cut(v, "=")
		return check(val)
	}
}

var channelTypes = []string{"TELEPHONY", "EMAIL", "CHAT", "SOCIAL_CHANNEL"}

// Types are registered in dependency order: a type's references point to
// types registered before it (import files in this order).
func init() {
	site := &Type{Slug: "site", Name: "Site", Aliases: []string{"sites"},
		Columns: []Column{
			nameCol("-_", false, "Boston"),
			{Key: "multimediaProfile", Header: "Multimedia Profile", Kind: Name, Required: true,
				Doc: "Name of the multimedia profile of the site's agents.", Example: "Default Multimedia Profile"},
		},
		Key:   []string{"name"},
		Notes: []string{"Multimedia profiles are not managed by this service, so the Multimedia Profile name is checked for form only, not for existence."},
	}
	register(site)

	workType := &Type{Slug: "work-type", Name: "Work Type", Aliases: []string{"worktype", "work-types"},
		Columns: []Column{
			nameCol("-_&", false, "Lunch"),
			descCol("Lunch break"),
			{Key: "type", Header: "Type", Aliases: []string{"Work Type Code"}, Kind: Enum, Required: true, Immutable: true,
				Values: []string{"IDLE_CODE", "WRAP_UP_CODE"}, Doc: "IDLE_CODE or WRAP_UP_CODE; fixed once created.", Example: "IDLE_CODE"},
		},
		Key:   []string{"name"},
		Notes: []string{"Type is immutable after create (choice): auxiliary codes depend on it."},
	}
	register(workType)

	auxCode := &Type{Slug: "auxiliary-code", Name: "Auxiliary Code", Aliases: []string{"aux-code", "auxiliary-codes", "idle-code", "wrap-up-code"},
		Columns: []Column{
			nameCol("-_&", false, "Lunch"),
			descCol("Lunch break"),
			{Key: "codeType", Header: "Code Type", Aliases: []string{"Work Type Code"}, Kind: Enum, Required: true, Immutable: true,
				Values: []string{"IDLE_CODE", "WRAP_UP_CODE"}, Doc: "IDLE_CODE (idle code) or WRAP_UP_CODE (wrap-up code); fixed once created.", Example: "IDLE_CODE"},
			boolCol("default", "Default", "true marks the tenant's default code of this kind."),
			refCol("workType", "Work Type", "work-type", "Name of a work type of the same kind.", "Lunch"),
		},
		Key: []string{"name"},
		Notes: []string{
			"Code Type is a column of its own (IDLE_CODE or WRAP_UP_CODE); Work Type, if given, must name a work type of the same kind.",
			"The import checks that a file marks at most one default per kind; the tenant-wide rule (exactly one default per kind) is checked by the configuration service, not by the bulk import.",
		},
	}
	auxCode.Rules = []Rule{func(f map[string]string, _ bool, resolve Resolver) []Problem {
		if f["workType"] == "" {
			return nil
		}
		wt, ok := resolve("work-type", JoinKey(f["workType"]))
		if ok && wt["type"] != f["codeType"] {
			return []Problem{{Code: CodeConflict, Column: "Work Type", Message: fmt.Sprintf("work type %q is %s, but the code is %s", f["workType"], wt["type"], f["codeType"]), Hint: "name a work type of the same kind"}}
		}
		return nil
	}}
	register(auxCode)

	epCols := func(outdial bool) []Column {
		channel := Column{Key: "channelType", Header: "Channel Type", Kind: Enum, Required: true, Immutable: true, Values: channelTypes,
			Doc: "TELEPHONY, EMAIL, CHAT or SOCIAL_CHANNEL; fixed once created.", Example: "TELEPHONY"}
		if outdial {
			channel = Column{Key: "channelType", Header: "Channel Type", Kind: Enum, Immutable: true, Values: []string{"TELEPHONY"},
				Doc: "Always TELEPHONY for outdial (blank means TELEPHONY).", Example: "TELEPHONY"}
		}
		cols := []Column{
			nameCol("&_-", true, "Support Line"),
			descCol("Main support number"),
			slaCol(), tzCol(), channel,
		}
		if !outdial {
			cols = append(cols, Column{Key: "socialChannelType", Header: "Social Channel Type", Kind: Enum,
				Values: []string{"MESSENGER", "WHATSAPP", "APPLE_BUSINESS_CHAT", "GOOGLE_BUSINESS_MESSAGES", "MESSAGEBIRD"},
				Doc:    "Only for SOCIAL_CHANNEL entry points."})
		}
		return append(cols, Column{Key: "assetName", Header: "Asset Name", Kind: Text, MaxLen: MaxNameLen, Doc: "Chat or e-mail asset name."})
	}
	entryPoint := &Type{Slug: "entry-point", Name: "Entry Point", Aliases: []string{"entry-points", "entrypoint"},
		Columns: epCols(false), Key: []string{"name"},
		Notes: []string{"Channel Type is immutable after create (choice). The article's spelling \"SOCIAL CHANNEL\" is accepted for SOCIAL_CHANNEL (spaces match underscores)."},
	}
	entryPoint.Rules = []Rule{func(f map[string]string, _ bool, _ Resolver) []Problem {
		if f["channelType"] == "SOCIAL_CHANNEL" {
			return need(f, entryPoint, "socialChannelType", "for SOCIAL_CHANNEL entry points")
		}
		return forbid(f, entryPoint, "socialChannelType", "unless Channel Type is SOCIAL_CHANNEL")
	}}
	register(entryPoint)

	outdialEP := &Type{Slug: "outdial-entry-point", Name: "Outdial Entry Point", Aliases: []string{"outdial-entry-points"},
		Columns: epCols(true), Key: []string{"name"},
		Notes: []string{"Outdial entry points are telephony only; a blank Channel Type is stored as TELEPHONY."},
	}
	outdialEP.Rules = []Rule{func(f map[string]string, _ bool, _ Resolver) []Problem {
		f["channelType"] = "TELEPHONY"
		return nil
	}}
	register(outdialEP)

	skillDef := &Type{Slug: "skill-definition", Name: "Skill Definition", Aliases: []string{"skill", "skills", "skill-definitions"},
		Columns: []Column{
			nameCol("-_&", false, "Spanish"),
			descCol("Speaks Spanish"),
			slaCol(),
			{Key: "type", Header: "Type", Aliases: []string{"Skill Type"}, Kind: Enum, Required: true, Immutable: true,
				Values: []string{"PROFICIENCY", "BOOLEAN", "TEXT", "ENUM"}, Doc: "PROFICIENCY (0-10), BOOLEAN, TEXT (up to 40 characters) or ENUM; fixed once created.", Example: "PROFICIENCY"},
			{Key: "enumValues", Header: "Enum Values", Kind: Text, Multi: true, MaxLen: 40, Doc: "For ENUM skills: the allowed values, separated by |."},
		},
		Key: []string{"name"},
	}
	skillDef.Rules = []Rule{func(f map[string]string, _ bool, _ Resolver) []Problem {
		if f["type"] == "ENUM" {
			return need(f, skillDef, "enumValues", "for ENUM skills")
		}
		return forbid(f, skillDef, "enumValues", "unless Type is ENUM")
	}}
	register(skillDef)

	skillProfile := &Type{Slug: "skill-profile", Name: "Skill Profile", Aliases: []string{"skill-profiles"},
		Columns: []Column{
			nameCol("-_&", false, "Spanish Support"),
			descCol("Agents for Spanish callers"),
			{Key: "skills", Header: "Skills", Kind: Pairs, Required: true, Ref: "skill-definition",
				Doc: "Skill name=value items separated by |: a level 0-10 for PROFICIENCY, true/false for BOOLEAN, text for TEXT, one of the values for ENUM.", Example: "Spanish=8"},
		},
		Key:   []string{"name"},
		Notes: []string{"One row per profile: the skills are packed in one Skills cell as name=value items (the reference's Skill Name/Skill Value pair, one per item)."},
	}
	skillProfile.Rules = []Rule{func(f map[string]string, _ bool, resolve Resolver) []Problem {
		var probs []Problem
		names, values := SplitPairs(f["skills"])
		for i, n := range names {
			def, ok := resolve("skill-definition", JoinKey(n))
			if !ok {
				continue // reported as an unknown reference
			}
			if msg := skillValue(def, values[i]); msg != "" {
				probs = append(probs, Problem{Code: CodeBadValue, Column: "Skills", Message: fmt.Sprintf("skill %q: %s", n, msg)})
			}
		}
		return probs
	}}
	register(skillProfile)

	team := &Type{Slug: "team", Name: "Team", Aliases: []string{"teams"},
		Columns: []Column{
			nameCol("-_&", false, "Tier 1"),
			{Key: "site", Header: "Site", Kind: Ref, Ref: "site", Required: true, Immutable: true, Doc: "Name of the team's site; fixed once created.", Example: "Boston"},
			{Key: "type", Header: "Type", Aliases: []string{"Team Type"}, Kind: Enum, Required: true, Immutable: true, Values: []string{"AGENT", "CAPACITY"},
				Doc: "AGENT or CAPACITY; fixed once created.", Example: "AGENT"},
			{Key: "multimediaProfile", Header: "Multimedia Profile", Kind: Name, Doc: "AGENT teams only."},
			refCol("skillProfile", "Skill Profile", "skill-profile", "AGENT teams only.", ""),
			{Key: "dn", Header: "DN", Aliases: []string{"Dial Number"}, Kind: Phone, Doc: "CAPACITY teams only (required there)."},
			intCol("capacity", "Capacity", 1, 1000, "CAPACITY teams only (required there).", ""),
			{Key: "desktopLayout", Header: "Desktop Layout", Kind: Name, Doc: "Name of the desktop layout."},
		},
		Key:   []string{"name", "site"},
		Notes: []string{"Team names are unique per site: the natural key is Name and Site. Other files refer to a team as \"Team: Site\", or by its name alone where the row has a Site column."},
	}
	team.Rules = []Rule{func(f map[string]string, _ bool, _ Resolver) []Problem {
		if f["type"] == "CAPACITY" {
			p := append(need(f, team, "dn", "for CAPACITY teams"), need(f, team, "capacity", "for CAPACITY teams")...)
			p = append(p, forbid(f, team, "skillProfile", "for CAPACITY teams")...)
			return append(p, forbid(f, team, "multimediaProfile", "for CAPACITY teams")...)
		}
		return append(forbid(f, team, "dn", "for AGENT teams"), forbid(f, team, "capacity", "for AGENT teams")...)
	}}
	register(team)

	teamRef := func(key, header, doc string, multi bool, scope string) Column {
		return Column{Key: key, Header: header, Kind: Ref, Ref: "team", Multi: multi, RefScope: scope, Doc: doc}
	}
	queueCols := func(outdial bool) []Column {
		channel := Column{Key: "channelType", Header: "Channel Type", Kind: Enum, Required: true, Immutable: true, Values: channelTypes,
			Doc: "TELEPHONY, EMAIL, CHAT or SOCIAL_CHANNEL; fixed once created.", Example: "TELEPHONY"}
		if outdial {
			channel = Column{Key: "channelType", Header: "Channel Type", Kind: Enum, Immutable: true, Values: []string{"TELEPHONY"}, Doc: "Always TELEPHONY (blank means TELEPHONY).", Example: "TELEPHONY"}
		}
		cols := []Column{
			nameCol("&_-", true, "Billing"),
			descCol("Billing questions"),
			channel,
			intCol("maxTimeInQueue", "Max Time In Queue", 1, 86400, "Seconds.", "600"),
			slaCol(), tzCol(),
			boolCol("permitMonitoring", "Permit Monitoring", "Telephony only."),
			boolCol("permitRecording", "Permit Recording", "Telephony only."),
			boolCol("recordAllCalls", "Record All Calls", "Telephony only."),
			boolCol("pauseResumeEnabled", "Pause or Resume Enabled", "Telephony only."),
			intCol("recordingPauseDuration", "Recording Pause Duration", 1, 600, "Seconds; only with Pause or Resume Enabled.", ""),
			{Key: "defaultMusicInQueue", Header: "Default Music in Queue", Kind: Name, Doc: "Audio file name (.wav)."},
		}
		if !outdial {
			cols = append(cols,
				Column{Key: "routingType", Header: "Routing Type", Kind: Enum, Required: true, Immutable: true,
					Values: []string{"LONGEST_AVAILABLE_AGENT", "SKILLS_BASED"}, Doc: "Fixed once created.", Example: "LONGEST_AVAILABLE_AGENT"},
				Column{Key: "skillBasedAgentSelection", Header: "Skill-Based Agent Selection", Kind: Enum,
					Values: []string{"LONGEST_AVAILABLE_AGENT", "BEST_AVAILABLE_AGENT"}, Doc: "SKILLS_BASED queues only."})
		}
		return append(cols,
			teamRef("group1Teams", "Group 1 Teams", "Teams of distribution group 1, as Team: Site, separated by |.", true, ""),
			teamRef("group2Teams", "Group 2 Teams", "Teams of distribution group 2.", true, ""),
			intCol("group2FallbackTime", "Group 2 Fallback Time", 1, 86400, "Seconds before group 2 is tried; required with Group 2 Teams.", ""),
			teamRef("group3Teams", "Group 3 Teams", "Teams of distribution group 3.", true, ""),
			intCol("group3FallbackTime", "Group 3 Fallback Time", 1, 86400, "Seconds before group 3 is tried; required with Group 3 Teams.", ""),
		)
	}
	queueRules := func(t *Type) []Rule {
		return []Rule{func(f map[string]string, _ bool, _ Resolver) []Problem {
			var p []Problem
			if f["channelType"] != "TELEPHONY" {
				for _, k := range []string{"permitMonitoring", "permitRecording", "recordAllCalls", "pauseResumeEnabled", "recordingPauseDuration"} {
					p = append(p, forbid(f, t, k, "unless Channel Type is TELEPHONY")...)
				}
			}
			if f["pauseResumeEnabled"] != "true" {
				p = append(p, forbid(f, t, "recordingPauseDuration", "unless Pause or Resume Enabled is true")...)
			}
			if _, ok := t.Column("routingType"); ok && f["routingType"] != "SKILLS_BASED" {
				p = append(p, forbid(f, t, "skillBasedAgentSelection", "unless Routing Type is SKILLS_BASED")...)
			}
			for _, g := range []string{"2", "3"} {
				teams, fb := "group"+g+"Teams", "group"+g+"FallbackTime"
				if f[teams] != "" {
					p = append(p, need(f, t, fb, "with Group "+g+" Teams")...)
				} else {
					p = append(p, forbid(f, t, fb, "without Group "+g+" Teams")...)
				}
			}
			if f["group3Teams"] != "" && f["group2Teams"] == "" {
				p = append(p, Problem{Code: CodeConflict, Column: "Group 3 Teams", Message: "group 3 needs group 2", Hint: "fill the groups in order"})
			}
			if f["group2Teams"] != "" && f["group1Teams"] == "" {
				p = append(p, Problem{Code: CodeConflict, Column: "Group 2 Teams", Message: "group 2 needs group 1", Hint: "fill the groups in order"})
			}
			return p
		}}
	}
	queueNote := "Distribution groups are packed per group: Group N Teams (Team: Site items separated by |) and Group N Fallback Time (seconds; none for group 1), up to three groups."
	queue := &Type{Slug: "queue", Name: "Queue", Aliases: []string{"queues", "contact-service-queue"}, Columns: queueCols(false), Key: []string{"name"},
		Notes: []string{queueNote, "Routing Type and Channel Type are immutable after create."}}
	queue.Rules = queueRules(queue)
	register(queue)
	outdialQueue := &Type{Slug: "outdial-queue", Name: "Outdial Queue", Aliases: []string{"outdial-queues"}, Columns: queueCols(true), Key: []string{"name"},
		Notes: []string{queueNote, "Outdial queues are telephony only; a blank Channel Type is stored as TELEPHONY."}}
	outdialQueue.Rules = append([]Rule{func(f map[string]string, _ bool, _ Resolver) []Problem {
		f["channelType"] = "TELEPHONY"
		return nil
	}}, queueRules(outdialQueue)...)
	register(outdialQueue)

	entries := func(check func(string) string, what string) Column {
		return Column{Key: "entries", Header: "Entries", Kind: Pairs, Check: pairValues(check),
			Doc: "Entries as name=" + what + " items separated by |.", Example: "Front Desk=+14155550100"}
	}
	parentCols := []Column{
		{Key: "parentType", Header: "Parent Type", Kind: Enum, Immutable: true, Values: []string{"ORGANIZATION", "SITE"},
			Doc: "ORGANIZATION (default) or SITE; fixed once created.", Example: "ORGANIZATION"},
		refCol("parentSite", "Parent Site", "site", "Site name; SITE parents only.", ""),
	}
	parentRule := func(t *Type) Rule {
		return func(f map[string]string, _ bool, _ Resolver) []Problem {
			if f["parentType"] == "" {
				f["parentType"] = "ORGANIZATION"
			}
			if f["parentType"] == "SITE" {
				return need(f, t, "parentSite", "when Parent Type is SITE")
			}
			return forbid(f, t, "parentSite", "when Parent Type is ORGANIZATION")
		}
	}
	addressBook := &Type{Slug: "address-book", Name: "Address Book", Aliases: []string{"address-books"},
		Columns: append(append([]Column{nameCol("-_&", false, "Partners"), descCol("Partner hotlines")}, parentCols...),
			entries(func(v string) string {
				if _, p := (Column{Kind: Phone}).one(v); p != nil {
					return fmt.Sprintf("%q is not a phone number (+, digits, ( ) -)", v)
				}
				return ""
			}, "number")),
		Key:   []string{"name"},
		Notes: []string{"One row per book: entries are packed in one Entries cell as name=number items separated by | (choice; repeated rows per book would make the row the wrong unit of error reporting). Parent Type is immutable; blank means ORGANIZATION."},
	}
	addressBook.Rules = []Rule{parentRule(addressBook)}
	register(addressBook)

	outdialANI := &Type{Slug: "outdial-ani", Name: "Outdial ANI", Aliases: []string{"outdial-anis"},
		Columns: []Column{nameCol("-_&", false, "Main ANI"), descCol("Caller IDs"), entries(phoneOrSIP, "number or SIP URI"),
			boolCol("default", "Default", "true marks the tenant's default outdial ANI list.")},
		Key:   []string{"name"},
		Notes: []string{"Entries are packed like address book entries; a value may be a phone number or a sip:/sips: URI."},
	}
	register(outdialANI)

	access := func(key, header string) Column {
		return Column{Key: key, Header: header, Kind: Enum, Values: []string{"ALL", "SPECIFIC", "NONE"}, Doc: "ALL, SPECIFIC or NONE."}
	}
	userProfile := &Type{Slug: "user-profile", Name: "User Profile", Aliases: []string{"user-profiles"},
		Columns: []Column{
			nameCol("-_&", false, "Supervisors"),
			descCol("Floor supervisors"),
			{Key: "profileType", Header: "Profile Type", Kind: Enum, Required: true, Immutable: true,
				Values: []string{"STANDARD_AGENT", "PREMIUM_AGENT", "SUPERVISOR", "ADMINISTRATOR", "ADMINISTRATOR_ONLY"}, Doc: "Fixed once created.", Example: "SUPERVISOR"},
			access("entryPointsAccess", "Entry Points Access"), access("queuesAccess", "Queues Access"),
			access("sitesAccess", "Sites Access"), access("teamsAccess", "Teams Access"),
		},
		Key:   []string{"name"},
		Notes: []string{"Access levels are one column per resource kind (ALL, SPECIFIC, NONE); the lists behind SPECIFIC are managed in the admin UI."},
	}
	register(userProfile)

	agentProfile := &Type{Slug: "agent-profile", Name: "Agent Profile", Aliases: []string{"desktop-profile", "agent-desktop-profile", "agent-profiles"},
		Columns: append(append([]Column{nameCol("-_&", false, "Day Shift"), descCol("Default desktop settings")}, parentCols...),
			boolCol("autoWrapUp", "Auto Wrap Up", "Wrap up automatically after Auto Wrap Up Time."),
			intCol("autoWrapUpTime", "Auto Wrap Up Time", 1, 300, "Seconds; only with Auto Wrap Up.", ""),
			access("wrapUpCodesAccess", "Wrap Up Codes Access"),
			Column{Key: "wrapUpCodes", Header: "Wrap Up Codes", Kind: Ref, Ref: "auxiliary-code", Multi: true, Doc: "With SPECIFIC access: code names separated by |."},
			access("idleCodesAccess", "Idle Codes Access"),
			Column{Key: "idleCodes", Header: "Idle Codes", Kind: Ref, Ref: "auxiliary-code", Multi: true, Doc: "With SPECIFIC access: code names separated by |."},
			access("buddyTeamsAccess", "Buddy Teams Access"),
			teamRef("buddyTeams", "Buddy Teams", "With SPECIFIC access: Team: Site items separated by |.", true, ""),
			boolCol("outdialEnabled", "Outdial Enabled", "Agents may place outbound calls."),
			refCol("outdialEntryPoint", "Outdial Entry Point", "outdial-entry-point", "Required when Outdial Enabled.", ""),
			refCol("addressBook", "Address Book", "address-book", "", ""),
			refCol("outdialANI", "Outdial ANI", "outdial-ani", "", ""),
		),
		Key:   []string{"name"},
		Notes: []string{"A subset of the desktop profile's settings; code and team lists apply only with SPECIFIC access."},
	}
	agentProfile.Rules = []Rule{parentRule(agentProfile), func(f map[string]string, _ bool, _ Resolver) []Problem {
		var p []Problem
		if f["autoWrapUp"] != "true" {
			p = append(p, forbid(f, agentProfile, "autoWrapUpTime", "unless Auto Wrap Up is true")...)
		}
		for _, l := range [][2]string{{"wrapUpCodesAccess", "wrapUpCodes"}, {"idleCodesAccess", "idleCodes"}, {"buddyTeamsAccess", "buddyTeams"}} {
			if f[l[0]] == "SPECIFIC" {
				p = append(p, need(f, agentProfile, l[1], "with SPECIFIC access")...)
			} else {
				p = append(p, forbid(f, agentProfile, l[1], "unless access is SPECIFIC")...)
			}
		}
		if f["outdialEnabled"] == "true" {
			p = append(p, need(f, agentProfile, "outdialEntryPoint", "when Outdial Enabled is true")...)
		}
		return p
	}}
	register(agentProfile)

	user := &Type{Slug: "user", Name: "User", Aliases: []string{"users"},
		Columns: []Column{
			{Key: "email", Header: "Email", Aliases: []string{"E-mail", "Email Address", "E-mail Address"}, Kind: Email, Required: true,
				Doc: "The user's e-mail address; identifies the user.", Example: "ana.lopez@example.com"},
			refCol("userProfile", "User Profile", "user-profile", "Name of the user profile.", "Supervisors"),
			boolCol("contactCenterEnabled", "Contact Center Enabled", "true to make the user an agent; the columns after it apply only then."),
			refCol("site", "Site", "site", "Name of the agent's site.", ""),
			teamRef("teams", "Teams", "Team names separated by | (in the row's Site; write Team: Site for another site).", true, "site"),
			refCol("skillProfile", "Skill Profile", "skill-profile", "", ""),
			refCol("desktopProfile", "Desktop Profile", "agent-profile", "Name of the agent (desktop) profile; required for agents.", ""),
			{Key: "multimediaProfile", Header: "Multimedia Profile", Kind: Name},
			{Key: "externalId", Header: "External Id", Aliases: []string{"External ID"}, Kind: Text, MaxLen: 128},
			{Key: "defaultDN", Header: "Default DN", Kind: Phone},
		},
		Key:   []string{"email"},
		Notes: []string{"Users are keyed by e-mail (case-insensitive). Site, teams and profiles apply only to contact-center-enabled users; an agent needs a site and exactly one desktop profile."},
	}
	user.Rules = []Rule{func(f map[string]string, _ bool, _ Resolver) []Problem {
		if f["contactCenterEnabled"] == "true" {
			return append(need(f, user, "site", "for contact center users"), need(f, user, "desktopProfile", "for contact center users")...)
		}
		var p []Problem
		for _, k := range []string{"site", "teams", "skillProfile", "desktopProfile", "multimediaProfile", "defaultDN"} {
			p = append(p, forbid(f, user, k, "unless Contact Center Enabled is true")...)
		}
		return p
	}}
	register(user)

	mapping := &Type{Slug: "entry-point-mapping", Name: "Entry Point Mapping", Aliases: []string{"dial-number", "dn-mapping", "entry-point-mappings"},
		Columns: []Column{
			{Key: "dialedNumber", Header: "Dialed Number", Aliases: []string{"DN", "Dial Number"}, Kind: Name, Required: true, MaxLen: 20,
				Check: func(v string) string {
					if !dialedNumberRe.MatchString(v) {
						return fmt.Sprintf("%q must be + then digits (. and - allowed)", v)
					}
					return ""
				}, Doc: "+ then digits; . and - allowed; at most 20 characters.", Example: "+14155550100"},
			{Key: "entryPoint", Header: "Entry Point", Kind: Ref, Ref: "entry-point", Required: true, Doc: "Name of the entry point.", Example: "Support Line"},
			{Key: "region", Header: "Region", Kind: Enum, Values: []string{"US1", "CA1", "EU1", "EU2", "ANZ1", "JP1", "SG1"}, Doc: "Media region (fixed list)."},
		},
		Key:   []string{"dialedNumber"},
		Notes: []string{"The region list is our choice (US1, CA1, EU1, EU2, ANZ1, JP1, SG1); the source only says \"a fixed list\"."},
	}
	register(mapping)

	agent := &Type{Slug: "agent", Name: "Agent (GAX)", Aliases: []string{"gax-agent", "gax"}, Action: true,
		Columns: []Column{
			{Key: "firstName", Header: "First Name", Kind: Text, MaxLen: 64, Required: true, Example: "Sarah"},
			{Key: "lastName", Header: "Last Name", Kind: Text, MaxLen: 64, Required: true, Example: "Lee"},
			{Key: "employeeId", Header: "Employee ID", Kind: Text, MaxLen: 64, Required: true, Example: "223344"},
			{Key: "userName", Header: "User Name", Kind: Name, Required: true, Check: func(v string) string {
				if strings.ContainsAny(v, " \t") {
					return fmt.Sprintf("%q contains spaces", v)
				}
				return ""
			}, Example: "sarahl@acme.com"},
			{Key: "password", Header: "Password", Kind: Text, Check: func(string) string {
				return "passwords are not imported; leave the cell empty and set the password in the identity provider"
			}, Doc: "Accepted for GAX compatibility; must be blank."},
			ynCol("passwordChange", "Password Change", false, "Y to force a password change at next login.", "N"),
			ynCol("agent", "Agent", true, "Y for an agent, N for a plain user.", "Y"),
			{Key: "externalId", Header: "External ID", Kind: Text, MaxLen: 128},
			{Key: "email", Header: "E-mail Address", Aliases: []string{"Email"}, Kind: Email, Example: "sarahl@acme.com"},
			{Key: "extension", Header: "Extension", Kind: Text, MaxLen: 20, Check: func(v string) string {
				if !extensionRe.MatchString(v) {
					return fmt.Sprintf("%q is not an extension (digits, * and #)", v)
				}
				return ""
			}},
			ynCol("enabled", "Enabled", false, "Y or N.", "Y"),
			{Key: "folder", Header: "Folder", Kind: Text, Required: true, Check: func(v string) string {
				for _, seg := range strings.Split(v, "/") {
					if strings.TrimSpace(seg) == "" {
						return fmt.Sprintf("%q has an empty folder name; write a path like Company/Branch/Team 1", v)
					}
				}
				return ""
			}, Example: "Acme/Branch/Team 1"},
		},
		Families: []Family{
			{Prefix: "Skill", Key: "skills", Level: true, Min: 0, Max: 10, Ref: "skill-definition", Doc: "A level 0-10 assigns the skill, N removes it, blank leaves it.",
				ExampleName: "Spanish", ExampleCell: "8"},
			{Prefix: "Agent Group", Key: "agentGroups", Doc: "Y adds to the group, N removes, blank leaves it.", ExampleName: "Tier 1", ExampleCell: "Y"},
			{Prefix: "Access Group", Key: "accessGroups", Doc: "Y adds to the access group, N removes, blank leaves it."},
			{Prefix: "Switch", Key: "switches", Doc: "Y creates the agent login on the switch, N removes it, blank leaves it."},
		},
		Key: []string{"userName"},
		Notes: []string{
			"Genesys GAX agent file: Action ADD fails if the user name exists, UPDATE fails if it does not; the user name appears once per file.",
			"Skill:<name> columns must name existing skill definitions; agent groups, access groups and switches are not managed by this service and are stored by name.",
			"Passwords are never imported or stored; a non-blank Password cell is rejected.",
		},
	}
	register(agent)
}

// skillValue checks a skill profile's value against the skill definition.
func skillValue(def map[string]string, v string) string {
	switch def["type"] {
	case "PROFICIENCY":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			return fmt.Sprintf("%q is not a proficiency from 0 to 10", v)
		}
	case "BOOLEAN":
		if _, ok := boolWords[strings.ToLower(v)]; !ok {
			return fmt.Sprintf("%q is not true or false", v)
		}
	case "TEXT":
		if len([]rune(v)) > 40 {
			return "text skills take at most 40 characters"
		}
	case "ENUM":
		for _, e := range SplitMulti(def["enumValues"]) {
			if strings.EqualFold(e, v) {
				return ""
			}
		}
		return fmt.Sprintf("%q is not one of %s", v, strings.ReplaceAll(def["enumValues"], MultiSep, ", "))
	}
	return ""
}
