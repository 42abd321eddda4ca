// The browser client: ChatService.Subscribe (server stream) for everything that
// arrives, unary calls for everything sent, all through clients generated from
// proto/. No framework: state lives in state.ts and view.ts redraws from it.
import {
  addMembers,
  createGroup,
  leaveChannel,
  loadOlder,
  messageAction,
  onComposerInput,
  openChannel,
  openDirect,
  removeMember,
  resendFailed,
  sendMessage,
  stopTyping,
  submitComposer,
} from './actions.js';
import { Code, codeOf, messageOf } from './api.js';
import { blockUser, loadSettings, toggleSettings } from './safety.js';
import { adopt, adoptNew, sessionFrom, sessionHooks } from './session.js';
import { api, app, freshState, type Session, store, uuid } from './state.js';
import { heartbeatLoop, hooks, loadChannels, markRead, onOffline, onOnline, streamLoop } from './sync.js';
import { $, type Actions, draw, field, form, setConn, showError } from './view.js';

function defaultDeviceId() {
  let id = localStorage.getItem('chat.deviceId');
  if (!id) localStorage.setItem('chat.deviceId', (id = `web-${uuid().slice(0, 8)}`));
  return id;
}

/** Starts the signed-in page; `fromLogin`: the pair is new (the newest for every tab's refresh). */
async function start(session: Session, fromLogin = false) {
  const s = freshState(session);
  app.state = s;
  if (fromLogin) await adoptNew(s, session);
  else adopt(s, session);
  $('#login-view').hidden = true;
  $('#chat-view').hidden = false;
  $('#logout').hidden = false;
  $('#settings').hidden = false;
  $('#me').textContent = `${session.userName} · ${session.deviceId}`;
  setConn(s, 'connecting');
  try {
    await loadChannels(s);
  } catch (e) {
    if (codeOf(e) === Code.Unauthenticated) return logout('Signed out: your session expired. Log in again.');
    showError(e);
  }
  void loadSettings(s).catch(() => {}); // who is blocked, for the block buttons
  void streamLoop(s);
  void heartbeatLoop(s);
  app.render();
}

function logout(message = '') {
  const s = app.state;
  if (s) {
    s.stopped = true;
    s.abort?.abort();
    for (const t of s.timers) clearTimeout(t);
  }
  app.state = undefined;
  api.token = '';
  store.del('chat.session');
  setConn(undefined, 'offline');
  $('#chat-view').hidden = true;
  $('#logout').hidden = true;
  $('#settings').hidden = true;
  $('#me').textContent = '';
  $('#login-view').hidden = false;
  $('#login-error').textContent = message;
  field(form('#login-form'), 'device').value = defaultDeviceId();
}

const actions: Actions = {
  open: (channelId) => app.state && void openChannel(app.state, channelId),
  retry: (channelId, body, clientMsgId) => app.state && void sendMessage(app.state, channelId, body, clientMsgId),
  remove: (channelId, member) => app.state && void removeMember(app.state, channelId, member),
  message: (m, act) => {
    const s = app.state;
    if (!s) return;
    messageAction(s, m, act);
    if (act === 'edit') field(form('#composer'), 'body').value = m.body;
    if (act === 'edit' || act === 'reply') field(form('#composer'), 'body').focus();
  },
};

let renderQueued = false;
/** Coalesces many state changes (a replay) into one redraw. */
app.render = () => {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    if (app.state) draw(app.state, actions);
  }, 0);
};
sessionHooks.signedOut = logout;
hooks.live = resendFailed;

/** A form whose submit runs `fn` with its fields (prevented default, state required unless `anon`). */
function onSubmit(sel: string, fn: (f: HTMLFormElement, ev: SubmitEvent) => unknown, anon = false) {
  form(sel).addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (anon || app.state) void fn(ev.target as HTMLFormElement, ev as SubmitEvent);
  });
}

onSubmit(
  '#login-form',
  async (f, ev) => {
    const userName = field(f, 'user').value.trim();
    const password = field(f, 'password').value;
    const deviceId = field(f, 'device').value.trim() || defaultDeviceId();
    localStorage.setItem('chat.deviceId', deviceId);
    $('#login-error').textContent = '';
    try {
      if ((ev.submitter as HTMLElement | null)?.id === 'register') await api.account.register({ userName, password });
      const r = await api.account.login({ userName, password, deviceId });
      field(f, 'password').value = '';
      await start(sessionFrom(r, userName), true);
    } catch (e) {
      $('#login-error').textContent = messageOf(e);
    }
  },
  true,
);
// Logout signs this device out on the server too (its refresh token dies), then forgets the session here.
$('#logout').addEventListener('click', () => {
  if (api.token) void api.account.logout({}, { headers: { authorization: `Bearer ${api.token}` }, timeoutMs: 5000 }).catch(() => {});
  logout();
});

onSubmit('#direct-form', async (f) => (await openDirect(app.state!, field(f, 'peer').value.trim())) && f.reset());
onSubmit('#group-form', async (f) => (await createGroup(app.state!, field(f, 'title').value.trim(), field(f, 'members').value)) && f.reset());
onSubmit('#add-form', async (f) => app.state?.current && (await addMembers(app.state, app.state.current, field(f, 'member').value)) && f.reset());
onSubmit('#block-form', async (f) => (await blockUser(app.state!, field(f, 'user').value.trim())) && f.reset());
$('#settings').addEventListener('click', () => app.state && toggleSettings(app.state));
$('#leave').addEventListener('click', () => app.state?.current && void leaveChannel(app.state, app.state.current));

onSubmit('#composer', (f) => {
  const s = app.state!;
  const input = field(f, 'body');
  const body = input.value.trim();
  if (!body || !s.current) return;
  input.value = '';
  stopTyping(s);
  submitComposer(s, body);
});
$('#compose-cancel').addEventListener('click', () => {
  if (app.state?.compose?.mode === 'edit') field(form('#composer'), 'body').value = '';
  if (app.state) app.state.compose = undefined;
  app.render();
});
field(form('#composer'), 'body').addEventListener('input', (ev) => app.state && onComposerInput(app.state, (ev.target as HTMLInputElement).value.trim()));

// Paging: scrolling near the top loads the next older page.
$('#messages').addEventListener('scroll', () => {
  const s = app.state;
  if (s?.current && $('#messages').scrollTop < 80) void loadOlder(s, s.current);
});
document.addEventListener('visibilitychange', () => app.state?.current && document.visibilityState === 'visible' && markRead(app.state, app.state.current));
window.addEventListener('pagehide', () => app.state && stopTyping(app.state));
window.addEventListener('online', () => app.state && onOnline(app.state));
window.addEventListener('offline', () => app.state && onOffline(app.state));

const saved = store.get<Session | null>('chat.session', null);
if (saved?.token) void start(saved);
else logout();
