// The server's numerics, FAIL codes and notices as sentences in the user's language, the
// browser's side of client_render.go: every numeric the terminal client renders has an
// entry here (TestBrowserHasEveryNumericSentence runs this table against the terminal's
// samples), so the Chinese UI never shows "Cannot send to channel (+m)".
//
// An entry is [args, en, zh]: args(p, f) picks the sentence's arguments from the numeric's
// parameters after our own nick (p[p.length-1] is the trailing text, as in client_render.go)
// and f formats times and durations in the user's language. An entry of null is quiet: the
// numeric ends a list, carries machine data, or only changes the state.

const last = (p) => p[p.length - 1] || '';

export const numericTable = {
  '001': [(p) => [last(p)], '{0}', '{0}'],
  '002': [(p) => [last(p)], '{0}', '{0}'],
  '003': [(p) => [last(p)], '{0}', '{0}'],
  '221': [(p, f) => [f.userModes(p[0])], 'your user modes: {0}', '你的用户模式：{0}'],
  '242': [(p) => [last(p)], '{0}', '{0}'],
  '249': [(p) => [p[1]], 'stats: {0}', '统计：{0}'],
  '252': [(p) => [p[0]], '{0} server operator(s) online', '{0} 位服务器管理员在线'],
  '254': [(p) => [p[0]], '{0} room(s) open', '开放的聊天室：{0} 个'],
  '256': [(p) => [p[0]], 'about {0}:', '关于 {0}：'],
  '257': [(p) => [last(p)], '{0}', '{0}'],
  '258': [(p) => [last(p)], '{0}', '{0}'],
  '259': [(p) => [p[0]], 'administrator: {0}', '管理员：{0}'],
  '265': [(p) => [p[0], p[1]], '{0} user(s) online now (the most so far: {1})', '现在 {0} 人在线（最多时 {1} 人）'],
  '301': [(p) => [p[0], p[1]], '{0} is away: {1}', '{0} 暂时离开：{1}'],
  '302': [(p, f) => [f.userhost(p[0])], '{0}', '{0}'],
  '303': [(p) => [(p[0] || '').trim().split(/\s+/).filter(Boolean).join(', ')], 'online: {0}', '在线：{0}'],
  '305': [() => [], 'you are back (no longer marked as away)', '你回来了（不再标记为离开）'],
  '306': [() => [], 'you are marked as away', '你已被标记为离开'],
  '311': [(p) => [p[0], p[4], p[2], p[1]], '{0} ({1}) is connected from {2} as {3}', '{0}（{1}）从 {2} 以 {3} 连接'],
  '312': [(p) => [p[0], p[1], p[2]], '{0} is on server {1} ({2})', '{0} 在服务器 {1}（{2}）上'],
  '313': [(p) => [p[0]], '{0} is a server operator', '{0} 是服务器管理员'],
  '314': [(p) => [p[0], p[4], p[2], p[1]], '{0} ({1}) was connected from {2} as {3}', '{0}（{1}）曾从 {2} 以 {3} 连接'],
  '317': [(p, f) => [p[0], f.duration(Number(p[1]) * 1000), f.date(Number(p[2]) * 1000)], '{0} has been idle {1}, online since {2}', '{0} 已空闲 {1}，自 {2} 起在线'],
  '319': [(p, f) => [p[0], f.rooms(p[1])], '{0} is in {1}', '{0} 在 {1}'],
  '321': [() => [], 'rooms on this server:', '这台服务器上的聊天室：'],
  '322': [(p) => [p[0], p[1], p[2] ? ': ' + p[2] : ''], '{0}, {1} member(s){2}', '{0}，{1} 位成员{2}'],
  '324': [(p, f) => [p[0], f.roomModes(p.slice(1))], '{0}: {1}', '{0}：{1}'],
  '329': [(p, f) => [p[0], f.date(Number(p[1]) * 1000)], '{0} was created {1}', '{0} 创建于 {1}'],
  '330': [(p) => [p[0], p[1]], '{0} is logged in as account {1}', '{0} 登录的账号是 {1}'],
  '331': [(p) => [p[0]], '{0} has no topic', '{0} 没有主题'],
  '332': [(p) => [p[0], p[1]], 'topic of {0}: {1}', '{0} 的主题：{1}'],
  '333': [(p, f) => [p[0], f.nick(p[1]), f.date(Number(p[2]) * 1000)], '(the topic of {0} was set by {1} on {2})', '（{0} 的主题由 {1} 于 {2} 设置）'],
  '335': [(p) => [p[0]], '{0} is a bot', '{0} 是机器人'],
  '336': [(p) => [p[0]], 'you are invited to {0}', '你受邀加入 {0}'],
  '341': [(p) => [p[0], p[1]], 'you invited {0} to {1}', '你邀请了 {0} 加入 {1}'],
  '346': [(p, f) => [p[0], f.mask(p[1])], '{0}: {1} may join without an invitation', '{0}：{1} 无需邀请即可加入'],
  '348': [(p, f) => [p[0], f.mask(p[1])], '{0}: {1} is exempt from the bans', '{0}：{1} 不受封禁限制'],
  '351': [(p) => [p[1], p[0], p[2]], 'server {0} runs {1} ({2})', '服务器 {0} 运行 {1}（{2}）'],
  '352': [(p) => [p[4], (p[6] || '').replace(/^\S+\s/, ''), (p[5] || '').startsWith('G') ? 'away' : 'here', p[0], p[2]], '{0} ({1}) is {2} in {3}, connected from {4}', '{0}（{1}）在 {3}（{2}），从 {4} 连接'],
  '353': [(p, f) => [p[1], f.rooms(p[2], true)], 'in {0}: {1}', '{0} 里有：{1}'],
  '354': [(p) => [p.join(', ')], 'who: {0}', '用户：{0}'],
  '364': [(p) => [p[0], (p[2] || '').replace(/^\S+\s/, '')], 'server {0}: {1}', '服务器 {0}：{1}'],
  '367': [(p, f) => [p[0], f.mask(p[1])], '{0}: {1} is banned', '{0}：{1} 已被封禁'],
  '371': [(p) => [last(p)], '{0}', '{0}'],
  '372': [(p) => [(p[0] || '').replace(/^-\s?/, '')], '{0}', '{0}'],
  '381': [() => [], 'you are now a server operator', '你现在是服务器管理员'],
  '391': [(p) => [p[0], p[1]], 'time on {0}: {1}', '{0} 上的时间：{1}'],
  '401': [(p) => [p[0]], '{0} is not online.', '{0} 不在线。'],
  '402': [(p) => [p[0]], 'there is no server {0}', '没有服务器 {0}'],
  '403': [(p) => [p[0]], 'there is no room {0}', '没有聊天室 {0}'],
  '404': [(p, f) => [p[0], f.cannotSend(p[1])], 'you cannot talk in {0}: {1}', '你不能在 {0} 发言：{1}'],
  '405': [(p) => [p[0]], 'you cannot join {0}: you are in too many rooms', '你不能加入 {0}：你加入的聊天室太多了'],
  '406': [(p) => [p[0]], 'nobody called {0} was here lately', '最近没有叫 {0} 的人来过'],
  '410': [(p) => [p[0]], 'the server refused capability command {0}', '服务器拒绝了能力命令 {0}'],
  '411': [() => [], 'a message needs someone to go to', '消息需要一个接收者'],
  '412': [() => [], 'there was no text to send', '没有要发送的内容'],
  '417': [() => [], 'that line was too long for the server', '这一行对服务器来说太长了'],
  '421': [(p) => [p[0]], 'the server has no command {0}', '服务器没有 {0} 这个命令'],
  '422': [() => [], 'this server has no message of the day', '这台服务器没有每日消息'],
  '431': [() => [], 'no nick was given', '没有给出昵称'],
  '432': [(p) => [p[0]], '{0} cannot be a nick (letters, digits and -_[]\\`^{|}, not starting with a digit)', '{0} 不能用作昵称（只能用字母、数字和 -_[]\\`^{|}，且不能以数字开头）'],
  '433': [(p) => [p[0]], 'the nick {0} is taken', '昵称 {0} 已被占用'],
  '436': [(p) => [p[0]], 'the nick {0} is taken', '昵称 {0} 已被占用'],
  '441': [(p) => [p[0], p[1]], '{0} is not in {1}', '{0} 不在 {1}'],
  '442': [(p) => [p[0]], 'you are not in {0}', '你不在 {0}'],
  '443': [(p) => [p[0], p[1]], '{0} is already in {1}', '{0} 已经在 {1} 里'],
  '451': [() => [], 'log in first', '请先登录'],
  '461': [(p) => [p[0]], '{0} needs more parameters', '{0} 缺少参数'],
  '462': [() => [], 'you are already logged in', '你已经登录了'],
  '464': [() => [], 'wrong password', '密码错误'],
  '465': [() => [], 'you are banned from this server', '你被禁止使用这台服务器'],
  '467': [(p) => [p[0]], '{0} already has a key', '{0} 已经设置了密码'],
  '471': [(p) => [p[0]], 'you cannot join {0}: it is full (its member limit is reached)', '你不能加入 {0}：人数已满'],
  '472': [(p) => [p[0]], '{0} is not a mode this server knows', '{0} 不是这台服务器认识的模式'],
  '473': [(p) => [p[0]], 'you cannot join {0}: it is invite-only (ask one of its operators to invite you)', '你不能加入 {0}：它仅限邀请（请它的管理员邀请你）'],
  '474': [(p) => [p[0]], 'you cannot join {0}: you are banned from it', '你不能加入 {0}：你已被禁止进入'],
  '475': [(p) => [p[0]], 'you cannot join {0} without its key: /join {0} KEY', '没有密码不能加入 {0}：/join {0} 密码'],
  '476': [(p) => [p[0]], '{0} is not a room name', '{0} 不是聊天室名称'],
  '478': [(p) => [p[0]], 'the ban list of {0} is full', '{0} 的封禁列表已满'],
  '481': [() => [], 'only server operators can do that', '只有服务器管理员才能这样做'],
  '482': [(p) => [p[0]], 'only operators of {0} can do that', '只有 {0} 的管理员才能这样做'],
  '491': [() => [], 'operator login refused: no operator entry matches you', '管理员登录被拒绝：没有匹配你的管理员条目'],
  '501': [() => [], 'that is not a user mode this server knows', '这不是这台服务器认识的用户模式'],
  '502': [() => [], 'you can only change your own user modes', '你只能修改自己的用户模式'],
  '524': [(p) => [p[0]], 'no help for {0} (HELP alone lists the commands)', '没有 {0} 的帮助（只输入 HELP 会列出所有命令）'],
  '696': [(p) => [p[2], p[0], last(p)], 'mode {0} of {1}: {2}', '{1} 的模式 {0}：{2}'],
  '704': [(p) => [p[1]], '{0}', '{0}'],
  '705': [(p) => [p[1]], '{0}', '{0}'],
  '734': [(p) => [p[0], p[1]], 'the server watches at most {0} users for you: {1} not added', '服务器最多为你关注 {0} 个用户：{1} 没有加入'],
  '901': [() => [], 'you are logged out', '你已退出登录'],
  '902': [() => [], 'this account is locked', '这个账号已被锁定'],
  '904': [() => [], 'login refused: wrong account name or password', '登录被拒绝：账号或密码错误'],
  '905': [() => [], 'login refused: the password is too long', '登录被拒绝：密码太长'],
  '906': [() => [], 'login cancelled', '登录已取消'],
  '907': [() => [], 'you are already logged in', '你已经登录了'],
};

// FAIL codes the server sends (commands.go, offline.go, session.go, standard.go), as
// sentences; {0} is the FAIL's context parameter (a name), {1} the server's own text.
export const failTable = {
  ACCOUNT_REQUIRED: ['log in to an account first: {1}', '请先登录账号：{1}'],
  QUEUE_FULL: ['{0} is offline and has too many messages waiting; try again after they log in', '{0} 不在线，等待的消息太多了；请等对方登录后再试'],
  MESSAGE_ERROR: ['the server could not store or read that message: {1}', '服务器无法保存或读取这条消息：{1}'],
  INVALID_UTF8: ['line not sent: it is not valid UTF-8', '没有发送：这一行不是有效的 UTF-8'],
  INVALID_REALNAME: ['that display name is not allowed: {1}', '不能使用这个显示名：{1}'],
  INVALID_HOST: ['that host name is not allowed: {1}', '不能使用这个主机名：{1}'],
  INVALID_PARAMS: ['the server refused the request: {1}', '服务器拒绝了这个请求：{1}'],
  NEED_MORE_PARAMS: ['the request is missing parameters: {1}', '请求缺少参数：{1}'],
  INVALID_TARGET: ['no such room you are in, or nobody of that name: {0}', '你不在这个聊天室，或没有这个人：{0}'],
  TEMPORARILY_UNAVAILABLE: ['not possible right now: {1}', '现在无法完成：{1}'],
  ACCOUNT_EXISTS: ['the account {0} already exists', '账号 {0} 已经存在'],
  BAD_ACCOUNT_NAME: ['{0} cannot be an account name: {1}', '{0} 不能用作账号名：{1}'],
};

// Server notices the browser understands, matched on the server's English text.
export const noticeTable = [
  [/^Killed (\S+) \((.*)\)$/, 'You disconnected {0} from the server ({1})', '你把 {0} 断开了服务器连接（{1}）'],
  [/^(\S+) is offline; message stored/, '{0} is offline; the message will be delivered when they log in.', '{0} 不在线；消息会在对方登录时送达。'],
];

const userModeNames = {
  en: { i: 'invisible', o: 'server operator', w: 'receives wallops', B: 'bot', r: 'logged in', Z: 'secure connection' },
  zh: { i: '隐身', o: '服务器管理员', w: '接收 wallops', B: '机器人', r: '已登录', Z: '安全连接' },
};
const roomModeNames = {
  en: { n: 'closed to messages from outside', t: 'topic set by operators only', m: 'moderated (only operators and voiced members talk)', i: 'invite-only', s: 'secret', p: 'private', u: 'quiet (joins and leaves are not shown)', C: 'closed to CTCP', k: 'protected by a key', l: 'limited to {0} members', none: 'no modes set' },
  zh: { n: '不接收外部消息', t: '只有管理员能设置主题', m: '管制发言（只有管理员和有发言权的成员能说话）', i: '仅限邀请', s: '秘密', p: '私有', u: '安静（不显示加入和离开）', C: '不接收 CTCP', k: '有密码保护', l: '最多 {0} 人', none: '没有设置模式' },
};
const words = {
  en: { operator: 'operator', voice: 'voice', account: 'account {0}', anyoneFrom: 'anyone from {0}', matching: 'whoever matches {0}', here: 'here', away: 'away', none: 'none', sep: ', ', noRooms: 'no rooms', moderated: 'the room is moderated: only operators and voiced members may talk', banned: 'you are banned from it', notIn: 'you are not in the room', refused: 'the server refused the message' },
  zh: { operator: '管理员', voice: '发言权', account: '账号 {0}', anyoneFrom: '来自 {0} 的任何人', matching: '符合 {0} 的人', here: '在线', away: '离开', none: '无', sep: '、', noRooms: '不在任何聊天室', moderated: '聊天室处于管制发言状态：只有管理员和有发言权的成员能说话', banned: '你已被禁止', notIn: '你不在这个聊天室', refused: '服务器拒绝了这条消息' },
};

const fill = (s, args) => s.replace(/\{(\d)\}/g, (_, i) => (args[i] ?? ''));

// formatters returns the helpers an entry's args function uses, in one language.
export function formatters(lang) {
  const L = lang === 'zh' ? 'zh' : 'en';
  const locale = L === 'zh' ? 'zh-CN' : 'en-GB';
  const w = words[L];
  const f = {
    date: (ms) => (Number.isFinite(ms) ? new Date(ms).toLocaleString(locale, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : '?'),
    duration: (ms) => {
      const s = Math.max(0, Math.round(ms / 1000));
      const u = L === 'zh' ? { s: ' 秒', m: ' 分钟', h: ' 小时', d: ' 天' } : { s: ' s', m: ' min', h: ' h', d: ' days' };
      if (!Number.isFinite(s)) return '?';
      if (s < 60) return s + u.s;
      if (s < 3600) return Math.floor(s / 60) + u.m;
      if (s < 48 * 3600) {
        const m = Math.floor(s / 60) % 60;
        return Math.floor(s / 3600) + u.h + (m ? ' ' + m + u.m : '');
      }
      return Math.floor(s / 86400) + u.d;
    },
    nick: (s) => String(s || '').split('!')[0],
    mask: (m) => {
      m = String(m || '');
      if (m.startsWith('$a:')) return fill(w.account, [m.slice(3)]);
      if (m.endsWith('!*@*') && !/[*?]/.test(m.slice(0, -4))) return m.slice(0, -4);
      if (m.startsWith('*!*@')) return fill(w.anyoneFrom, [m.slice(4)]);
      return fill(w.matching, [m]);
    },
    rooms: (list, nicks = false) => {
      const out = String(list || '').split(' ').filter(Boolean).map((r) => {
        const name = nicks ? r.replace(/^[~&@%+]+/, '').split('!')[0] : r.replace(/^[~&@%+]+/, '');
        if (r.startsWith('@') || r.startsWith('~') || r.startsWith('&')) return name + ' (' + w.operator + ')';
        if (r.startsWith('+')) return name + ' (' + w.voice + ')';
        return name;
      });
      return out.length ? out.join(w.sep) : w.noRooms;
    },
    userModes: (modes) => {
      const out = [...String(modes || '')].map((c) => userModeNames[L][c]).filter(Boolean);
      return out.length ? out.join(w.sep) : w.none;
    },
    roomModes: (p) => {
      const names = roomModeNames[L];
      const modes = String(p[0] || '').replace(/^\+/, '');
      const args = p.slice(1);
      const out = [];
      for (const c of modes) {
        if (c === 'k') { out.push(names.k); args.shift(); } else if (c === 'l') out.push(fill(names.l, [args.shift() || '?']));
        else out.push(names[c] || 'mode ' + c);
      }
      return out.length ? out.join(w.sep) : names.none;
    },
    userhost: (s) => {
      const out = String(s || '').split(' ').filter(Boolean).map((r) => {
        const [nick, rest = ''] = r.split('=');
        return nick.replace(/\*$/, '') + ' ' + rest.replace(/^[+-]/, '') + ' (' + (rest.startsWith('-') ? w.away : w.here) + ')';
      });
      return out.length ? out.join('; ') : w.none;
    },
    // cannotSend reads a 404's reason (+m, +b, +n) in the user's language.
    cannotSend: (text) => {
      const t = String(text || '');
      if (/\+m|moderated/i.test(t)) return w.moderated;
      if (/\+b|banned/i.test(t)) return w.banned;
      if (/\+n|not (in|on)/i.test(t)) return w.notIn;
      return L === 'en' ? t.replace(/^Cannot send to channel\s*/i, '').replace(/^\((.*)\)$/, '$1') || w.refused : w.refused;
    },
  };
  return f;
}

// numericSentence renders a numeric's parameters (after our nick) in lang; it returns
// null for a numeric not in the table.
export function numericSentence(code, params, lang) {
  const e = numericTable[code];
  if (!e) return null;
  const [args, en, zh] = e;
  return fill(lang === 'zh' ? zh : en, args(params, formatters(lang)).map((a) => a ?? ''));
}

// failSentence renders FAIL <command> <code> [context...] <text>.
export function failSentence(code, context, text, lang) {
  const e = failTable[code];
  if (!e) return lang === 'zh' ? '服务器拒绝了：' + text : text;
  return fill(lang === 'zh' ? e[1] : e[0], [context, text]);
}

// noticeSentence renders a known server notice, or returns null.
export function noticeSentence(text, lang) {
  for (const [re, en, zh] of noticeTable) {
    const m = re.exec(text);
    if (m) return fill(lang === 'zh' ? zh : en, m.slice(1));
  }
  return null;
}

// kickSentence: "teacher removed you from #lab: please stop", or of someone else.
export function kickSentence({ by, who, room, reason, me }, lang) {
  const zh = lang === 'zh';
  const tail = reason ? (zh ? '：' : ': ') + reason : '';
  if (me) return (zh ? `${by} 把你移出了 ${room}` : `${by} removed you from ${room}`) + tail;
  return (zh ? `${by} 把 ${who} 移出了 ${room}` : `${by} removed ${who} from ${room}`) + tail;
}
