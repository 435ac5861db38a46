package main

import "testing"

// Accounts that remember a private room stay its members while offline (issue 16 item 4):
// what was said in a +i, +k or +s room while mei was logged out is hers to read when she is
// back, and so counts as unread; a student let in afterwards still does not read it. A PART
// ends the membership: what is said after it is not hers, even once she is let in again
// (what was said while she was a member still is).
func TestOfflineMemberReadsPrivateRoom(t *testing.T) {
	for _, private := range []struct{ mode, join string }{{"+i", "JOIN #p"}, {"+k key1", "JOIN #p key1"}, {"+s", "JOIN #p"}} {
		t.Run(private.mode, func(t *testing.T) {
			ts := startServer(t, testConfig(t), "")
			registerAccount(t, ts.addr, "tom", "tom-password").quit()
			registerAccount(t, ts.addr, "mei", "mei-password").quit()
			registerAccount(t, ts.addr, "ken", "ken-password").quit()
			tom, _ := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
			joinRoom(tom, "#p")
			tom.send("MODE #p " + private.mode)
			tom.expect(`MODE #p `)
			mei, _ := capsLogin(t, ts.addr, "mei", "mei-password", historyCaps)
			tom.send("INVITE mei #p")
			mei.expect("INVITE mei #p")
			mei.send(private.join)
			mei.expect(" 366 mei #p ")
			sayIn(tom, "#p", "while mei is here")
			mei.quit()
			sayIn(tom, "#p", "while mei is logged out")

			back, lines := capsLogin(t, ts.addr, "mei", "mei-password", historyCaps)
			if lineIndex(lines, ` 366 mei #p `) < 0 {
				t.Fatalf("mei is not put back in #p at login: %q", lines)
			}
			if got := texts(historyBatch(t, back, "CHATHISTORY LATEST #p * 10")); got != "while mei is here|while mei is logged out" {
				t.Errorf("mei, a member while offline, reads %q", got)
			}
			ken, _ := capsLogin(t, ts.addr, "ken", "ken-password", historyCaps)
			tom.send("INVITE ken #p")
			ken.expect("INVITE ken #p")
			ken.send(private.join)
			ken.expect(" 366 ken #p ")
			if got := texts(historyBatch(t, ken, "CHATHISTORY LATEST #p * 10")); got != "" {
				t.Errorf("ken, let in afterwards, reads %q", got)
			}

			back.send("PART #p")
			back.expect("PART #p")
			sayIn(tom, "#p", "after mei left")
			tom.send("INVITE mei #p")
			back.expect("INVITE mei #p")
			back.send(private.join)
			back.expect(" 366 mei #p ")
			if got := texts(historyBatch(t, back, "CHATHISTORY LATEST #p * 10")); got != "while mei is here|while mei is logged out" {
				t.Errorf("mei, back after a PART, reads %q; want what was said while she was a member, not after she left", got)
			}
		})
	}
}
