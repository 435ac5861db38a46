package main

// Interactive logins forgive: a wrong password asks again (maxLoginTries in all), an
// unknown account offers to create it, an account that exists (with --register) offers to
// log in to it, and two passwords that differ ask again. Pipeline mode asks nobody and keeps
// its exit codes.

import (
	"errors"
	"strconv"
	"strings"
)

const maxLoginTries = 3

// forgive shows what went wrong with a login and asks what to do; true: try again with opts
// as changed.
func (p *prompt) forgive(opts *clientOptions, err error, tries int) bool {
	switch {
	case tries >= maxLoginTries+1:
		return false
	case errors.Is(err, errWrongPassword) && tries < maxLoginTries:
		p.printAbove("wrong password for " + opts.user + "; try again (" + strconv.Itoa(maxLoginTries-tries) + " more)")
		pw, err := p.ln.PasswordPrompt("Password for " + opts.user + "@" + opts.addr + ": ")
		if err != nil || pw == "" {
			return false
		}
		opts.password = pw
		return true
	case errors.Is(err, errNoSuchAccount):
		if !p.yes("There is no account " + opts.user + " on " + opts.addr + ". Create it? [y/N] ") {
			return false
		}
		again, err := p.ln.PasswordPrompt("Same password again, to create " + opts.user + ": ")
		if err != nil {
			return false
		}
		if again != opts.password {
			p.printAbove("the two passwords differ; choose the new account's password again")
			pw, err := p.newPassword(opts)
			if err != nil {
				return false
			}
			opts.password = pw
		}
		opts.register = true
		return true
	case errors.Is(err, errAccountExists):
		if !p.yes("The account " + opts.user + " exists already. Log in to it? [Y/n] ") {
			return false
		}
		opts.register = false
		pw, err := p.ln.PasswordPrompt("Password for " + opts.user + "@" + opts.addr + ": ")
		if err != nil || pw == "" {
			return false
		}
		opts.password = pw
		return true
	}
	return false
}

// yes asks a question; the default is the capital letter in "[y/N]" or "[Y/n]".
func (p *prompt) yes(question string) bool {
	answer, err := p.ln.Prompt(question)
	if err != nil {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true
	case "":
		return strings.Contains(question, "[Y/n]")
	}
	return false
}

// newPassword asks for a password twice, again while the two differ (maxLoginTries times).
func (p *prompt) newPassword(opts *clientOptions) (string, error) {
	for try := 1; ; try++ {
		pw, err := p.ln.PasswordPrompt("New password for " + opts.user + "@" + opts.addr + ": ")
		if err != nil || pw == "" {
			return "", usageErrorf("no password given")
		}
		again, err := p.ln.PasswordPrompt("Same password again: ")
		if err != nil {
			return "", usageErrorf("no password given")
		}
		if again == pw {
			return pw, nil
		}
		if try == maxLoginTries {
			return "", usageErrorf("the two passwords differ (%d tries)", maxLoginTries)
		}
		p.printAbove("the two passwords differ; again")
	}
}
