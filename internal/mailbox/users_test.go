package mailbox

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func testUsers(t *testing.T) *Users {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("hashed-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewUsers([]User{
		{Username: "Agent", Password: "pw", Numbers: []string{"+15550100001", "+15550100002"}},
		{Username: "boss@example.com", Password: string(hash), Numbers: []string{"+15550100002"}},
		{Username: "other", Password: "$not-bcrypt", Numbers: []string{"+15550100003"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuthenticate(t *testing.T) {
	d := testUsers(t)
	for _, tc := range []struct {
		name, user, pass, want string
	}{
		{"plain", "Agent", "pw", "Agent"},
		{"plain, name in another case", "aGENT", "pw", "Agent"},
		{"plain, wrong password", "agent", "pw2", ""},
		{"plain, password is case-sensitive", "agent", "PW", ""},
		{"plain, prefix of the password", "agent", "p", ""},
		{"plain, empty password", "agent", "", ""},
		{"bcrypt", "boss@example.com", "hashed-pw", "boss@example.com"},
		{"bcrypt, name in another case", "BOSS@Example.COM", "hashed-pw", "boss@example.com"},
		{"bcrypt, wrong password", "boss@example.com", "pw", ""},
		{"bcrypt, the hash itself as password", "boss@example.com", d.Lookup("boss@example.com").Password, ""},
		{"plain starting with $", "other", "$not-bcrypt", "other"},
		{"unknown user", "nobody", "pw", ""},
		{"unknown user, empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := d.Authenticate(tc.user, tc.pass)
			switch {
			case tc.want == "" && u != nil:
				t.Errorf("Authenticate(%q, %q) = %q, want nil", tc.user, tc.pass, u.Username)
			case tc.want != "" && (u == nil || u.Username != tc.want):
				t.Errorf("Authenticate(%q, %q) = %v, want %q", tc.user, tc.pass, u, tc.want)
			}
		})
	}
}

// An unknown user name costs a real bcrypt comparison: the dummy hash
// must be a valid one (a malformed hash fails at once, which would tell
// an attacker which names exist).
func TestDummyHashIsValid(t *testing.T) {
	if cost, err := bcrypt.Cost([]byte(dummyHash)); err != nil || cost < bcrypt.DefaultCost {
		t.Fatalf("dummy hash: cost %d, %v", cost, err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte("x")); !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		t.Fatalf("dummy hash comparison: %v, want a mismatch", err)
	}
}

func TestLookupAndForNumber(t *testing.T) {
	d := testUsers(t)
	if u := d.Lookup("AGENT"); u == nil || u.Key() != "agent" {
		t.Errorf("Lookup(AGENT) = %v", u)
	}
	if u := d.Lookup("nobody"); u != nil {
		t.Errorf("Lookup(nobody) = %v", u)
	}
	names := func(us []*User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		slices.Sort(out)
		return out
	}
	for number, want := range map[string][]string{
		"+15550100001": {"Agent"},
		"+15550100002": {"Agent", "boss@example.com"},
		"+15550100003": {"other"},
		"+15550100009": nil,
		"15550100001":  nil, // numbers compare exactly
	} {
		if got := names(d.ForNumber(number)); !slices.Equal(got, want) {
			t.Errorf("ForNumber(%s) = %q, want %q", number, got, want)
		}
	}
	u := d.Lookup("agent")
	if !u.Owns("+15550100002") || u.Owns("+15550100003") {
		t.Errorf("Owns: %v", u.Numbers)
	}
	if got := u.Address("example.com"); got != "Agent@example.com" {
		t.Errorf("Address = %q", got)
	}
	if got := d.Lookup("boss@example.com").Address("other.org"); got != "boss@example.com" {
		t.Errorf("Address of a user named by address = %q", got)
	}
}

func TestNewUsersChecks(t *testing.T) {
	for _, u := range []User{
		{Username: "", Password: "pw", Numbers: []string{"+1"}},
		{Username: "a", Password: "", Numbers: []string{"+1"}},
		{Username: "a", Password: "pw"},
	} {
		if _, err := NewUsers([]User{u}); err == nil {
			t.Errorf("NewUsers(%+v) accepted", u)
		}
	}
	d, err := NewUsers(nil)
	if err != nil || d.Lookup("x") != nil || len(d.ForNumber("+1")) != 0 {
		t.Errorf("empty directory: %v", err)
	}
}
