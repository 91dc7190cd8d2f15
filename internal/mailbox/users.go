package mailbox

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// User is a mail user: the same account for SMTP and IMAP.
type User struct {
	Username string
	Password string // plain, or a bcrypt hash ("$2a$…", "$2b$…", "$2y$…")
	// Numbers are the business numbers the user sends from (the first is
	// the default); the user's INBOX gets every customer message to them.
	Numbers []string
}

// Users is the directory of mail users, by lower-cased user name.
type Users struct {
	byName map[string]*User
}

// NewUsers checks and indexes users.
func NewUsers(users []User) (*Users, error) {
	d := &Users{byName: map[string]*User{}}
	for i := range users {
		u := &users[i]
		if u.Username == "" || u.Password == "" || len(u.Numbers) == 0 {
			return nil, fmt.Errorf("mail user %q needs a password and at least one number", u.Username)
		}
		d.byName[strings.ToLower(u.Username)] = u
	}
	return d, nil
}

// dummyHash is compared against when the user does not exist, so that a
// wrong user name costs as much time as a wrong password.
const dummyHash = "$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWX4Z1ZX8VQZ2m1zG3dCx5gRZq4K"

// Authenticate checks a password (bcrypt, or a constant-time compare of
// a plain one) and returns the user, or nil.
func (d *Users) Authenticate(username, password string) *User {
	u := d.byName[strings.ToLower(username)]
	if u == nil {
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		return nil
	}
	ok := false
	if strings.HasPrefix(u.Password, "$2") {
		ok = bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(password)) == nil
	} else {
		ok = subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
	}
	if !ok {
		return nil
	}
	return u
}

// Lookup returns the user by name (case-insensitive), or nil.
func (d *Users) Lookup(username string) *User { return d.byName[strings.ToLower(username)] }

// ForNumber lists the users that list a business number.
func (d *Users) ForNumber(business string) []*User {
	var out []*User
	for _, u := range d.byName {
		for _, n := range u.Numbers {
			if n == business {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

// Owns reports whether u sends from the business number n.
func (u *User) Owns(n string) bool {
	for _, own := range u.Numbers {
		if own == n {
			return true
		}
	}
	return false
}

// Key is the user's name as mailboxes are stored under it.
func (u *User) Key() string { return strings.ToLower(u.Username) }

// Address is the user's mail address: the user name when it is one,
// else <name>@domain.
func (u *User) Address(domain string) string {
	if strings.Contains(u.Username, "@") {
		return u.Username
	}
	return u.Username + "@" + domain
}
