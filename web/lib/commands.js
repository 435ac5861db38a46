// The slash-command table of the composer, like the terminal client's: each entry takes the
// argument text and a context {state, send, ui} and returns nothing or throws a
// CommandError whose message the composer shows. An unknown /command is passed to the
// server as a raw line, so every IRC command works from the input box.

import { isRoom, ctcp } from './irc.js';

export class CommandError extends Error {}

function need(args, usage) {
  if (!args.trim()) throw new CommandError(usage);
  return args.trim();
}

function oneWord(args, usage) {
  const a = need(args, usage);
  if (/\s/.test(a)) throw new CommandError(usage);
  return a;
}

function needRoom(ctx, usage) {
  const room = ctx.activeName();
  if (!isRoom(room)) throw new CommandError(usage + ' (in a room)');
  return room;
}

// modeCommand makes /op, /deop, /voice, /devoice: MODE <room> ±o|v NICK.
function modeCommand(name, change) {
  return {
    usage: '/' + name + ' NICK',
    run(args, ctx) { ctx.send('MODE', needRoom(ctx, this.usage), change, oneWord(args, this.usage)); },
  };
}

export const commands = {
  join: {
    usage: '/join #room [key]',
    run(args, ctx) {
      const [room, key] = need(args, this.usage).split(/\s+/);
      const name = isRoom(room) ? room : '#' + room;
      ctx.send('JOIN', ...(key ? [name, key] : [name]));
      ctx.ui.open(name);
    },
  },
  part: {
    usage: '/part [#room] [reason]',
    run(args, ctx) {
      let [room, ...rest] = args.trim().split(/\s+/);
      if (!isRoom(room)) { rest = room ? [room, ...rest] : rest; room = ctx.activeName(); }
      if (!isRoom(room)) throw new CommandError(this.usage);
      ctx.send('PART', room, ...(rest.length ? [rest.join(' ')] : []));
    },
  },
  msg: {
    usage: '/msg NICK|#room text',
    run(args, ctx) {
      const m = /^(\S+)\s+(.+)$/s.exec(args.trim());
      if (!m) throw new CommandError(this.usage);
      ctx.send('PRIVMSG', m[1], m[2]);
      ctx.ui.open(m[1]);
    },
  },
  query: {
    usage: '/query NICK',
    run(args, ctx) { ctx.ui.open(oneWord(args, this.usage)); },
  },
  me: {
    usage: '/me action',
    run(args, ctx) {
      const target = ctx.activeName();
      if (!target) throw new CommandError('open a conversation first');
      ctx.send('PRIVMSG', target, ctcp('ACTION', need(args, this.usage)));
    },
  },
  away: {
    usage: '/away [message]',
    run(args, ctx) { ctx.ui.setAway(args.trim() || ctx.t('awayDefault')); },
  },
  setname: {
    usage: '/setname DISPLAY NAME',
    run(args, ctx) { ctx.send('SETNAME', need(args.trim(), this.usage)); },
  },
  back: {
    usage: '/back',
    run(args, ctx) { ctx.ui.setAway(''); },
  },
  call: {
    usage: '/call NICK',
    run(args, ctx) {
      const nick = args.trim() || (ctx.activeKind() === 'dm' ? ctx.activeName() : '');
      if (!nick || /\s/.test(nick) || isRoom(nick)) throw new CommandError(this.usage);
      ctx.ui.call(nick);
    },
  },
  answer: { usage: '/answer', run(args, ctx) { ctx.ui.answer(); } },
  decline: { usage: '/decline', run(args, ctx) { ctx.ui.decline(); } },
  hangup: { usage: '/hangup', run(args, ctx) { ctx.ui.hangUp(); } },
  topic: {
    usage: '/topic [text]',
    run(args, ctx) {
      const room = ctx.activeName();
      if (!isRoom(room)) throw new CommandError('/topic works in a room');
      ctx.send('TOPIC', room, ...(args.trim() ? [args.trim()] : []));
    },
  },
  list: { usage: '/list', run(args, ctx) { ctx.ui.showRoomList(); } },
  // /notice TARGET text sends the whole text as one trailing parameter; $* is an
  // operator's announcement to everyone.
  notice: {
    usage: '/notice NICK|#room|$* text',
    run(args, ctx) {
      const m = /^(\S+)\s+(.+)$/s.exec(args.trim());
      if (!m) throw new CommandError(this.usage);
      ctx.send('NOTICE', m[1], m[2]);
    },
  },
  announce: {
    usage: '/announce text',
    run(args, ctx) { ctx.send('NOTICE', '$*', need(args, this.usage)); },
  },
  whois: {
    usage: '/whois NICK',
    run(args, ctx) { ctx.send('WHOIS', oneWord(args, this.usage)); },
  },
  kick: {
    usage: '/kick NICK [reason]',
    run(args, ctx) {
      const room = needRoom(ctx, this.usage);
      const m = /^(\S+)(?:\s+(.+))?$/s.exec(args.trim());
      if (!m) throw new CommandError(this.usage);
      ctx.send('KICK', room, m[1], ...(m[2] ? [m[2]] : []));
    },
  },
  ban: {
    usage: '/ban NICK|MASK',
    run(args, ctx) {
      const room = needRoom(ctx, this.usage);
      const who = oneWord(args, this.usage);
      ctx.send('MODE', room, '+b', /[!@*$]/.test(who) ? who : who + '!*@*');
    },
  },
  unban: {
    usage: '/unban NICK|MASK',
    run(args, ctx) {
      const room = needRoom(ctx, this.usage);
      const who = oneWord(args, this.usage);
      ctx.send('MODE', room, '-b', /[!@*$]/.test(who) ? who : who + '!*@*');
    },
  },
  invite: {
    usage: '/invite NICK [#room]',
    run(args, ctx) {
      const [nick, room] = need(args, this.usage).split(/\s+/);
      const target = room || needRoom(ctx, this.usage);
      ctx.send('INVITE', nick, target);
    },
  },
  contact: {
    usage: '/contact add|remove NICK',
    run(args, ctx) {
      const [op, nick] = args.trim().split(/\s+/);
      if (!nick || !['add', 'remove'].includes(op)) throw new CommandError(this.usage);
      if (op === 'add') ctx.ui.addContact(nick); else ctx.ui.removeContact(nick);
    },
  },
  op: modeCommand('op', '+o'),
  deop: modeCommand('deop', '-o'),
  voice: modeCommand('voice', '+v'),
  devoice: modeCommand('devoice', '-v'),
  mute: { usage: '/mute', run(args, ctx) { ctx.ui.toggleMute(); } },
  quit: { usage: '/quit', run(args, ctx) { ctx.ui.logout(); } },
  help: {
    usage: '/help',
    run(args, ctx) { ctx.ui.help(Object.values(commands).map((c) => c.usage)); },
  },
  raw: {
    usage: '/raw LINE',
    run(args, ctx) { ctx.sendRaw(need(args, this.usage)); },
  },
};

// runInput handles one line typed into the composer: a /command, "//text" (a message that
// starts with a slash), or plain text for the open conversation.
export function runInput(line, ctx) {
  if (!line.trim()) return;
  if (line.startsWith('/') && !line.startsWith('//')) {
    const m = /^\/(\S+)\s*(.*)$/s.exec(line);
    const name = m[1].toLowerCase();
    const cmd = commands[name];
    if (cmd) {
      cmd.run(m[2], ctx);
      return;
    }
    ctx.sendRaw(m[1].toUpperCase() + (m[2] ? ' ' + m[2] : ''));
    return;
  }
  const target = ctx.activeName();
  if (!target || ctx.activeKind() === 'server') throw new CommandError(ctx.t('noTarget'));
  const text = line.startsWith('//') ? line.slice(1) : line;
  // A paste of several lines is one message (draft/multiline) where the UI can send one.
  if (ctx.sendMultiline && text.includes('\n')) {
    ctx.sendMultiline(target, text.replace(/^\n+|\n+$/g, ''));
    return;
  }
  for (const part of text.split('\n')) if (part) ctx.send('PRIVMSG', target, part);
}
