package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func connectCommand() *cli.Command {
	return &cli.Command{
		Name:   "connect",
		Usage:  "connect to a labchat (IRC) server and chat",
		Action: func(c *cli.Context) error { return errors.New("connect: under construction") },
	}
}
