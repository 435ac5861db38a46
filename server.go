package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "run the chat server (IRC over TCP)",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "listen on `ADDR` (host:port)", EnvVars: []string{"LABCHAT_LISTEN"}},
		},
		Action: func(c *cli.Context) error { return errors.New("serve: under construction") },
	}
}
