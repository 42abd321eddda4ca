// Typed chat.v1 calls over grpc-web: plain objects in, plain objects out.
import { serverStream, unary } from './grpcweb.js';
import * as pb from './proto.js';

const ACCOUNT = '/chat.v1.AccountService/';
const CHAT = '/chat.v1.ChatService/';
const PRESENCE = '/chat.v1.PresenceService/';

export class ChatApi {
  /** `base` is the grpc-web endpoint's origin ('' = the page's own origin). */
  constructor(base = '') {
    this.base = base;
    this.token = '';
  }

  async call(path, reqSchema, req, resSchema, opts = {}) {
    const bytes = await unary(this.base, path, pb.toBytes(reqSchema, req), { token: this.token, ...opts });
    return pb.decode(resSchema, bytes);
  }

  register(userName, password) {
    return this.call(ACCOUNT + 'Register', pb.RegisterRequest, { userName, password }, pb.RegisterResponse);
  }

  login(userName, password, deviceId) {
    return this.call(ACCOUNT + 'Login', pb.LoginRequest, { userName, password, deviceId }, pb.LoginResponse);
  }

  async listChannels() {
    return (await this.call(CHAT + 'ListChannels', pb.Empty, {}, pb.ListChannelsResponse)).channels;
  }

  async openDirect(peer) {
    return (await this.call(CHAT + 'OpenDirect', pb.OpenDirectRequest, { peer }, pb.OpenDirectResponse)).channel;
  }

  async send(channelId, clientMsgId, body) {
    return this.call(CHAT + 'SendMessage', pb.SendMessageRequest, { channelId, clientMsgId, body }, pb.SendMessageResponse);
  }

  setTyping(channelId, typing) {
    return this.call(CHAT + 'SetTyping', pb.SetTypingRequest, { channelId, typing }, pb.Empty);
  }

  markRead(channelId, lastReadMessageId) {
    return this.call(CHAT + 'MarkRead', pb.MarkReadRequest, { channelId, lastReadMessageId }, pb.Empty);
  }

  /** cursors: [{ channelId, lastMessageId }] */
  ackDelivered(cursors) {
    return this.call(CHAT + 'AckDelivered', pb.AckDeliveredRequest, { cursors }, pb.Empty);
  }

  history(channelId, beforeId = 0, limit = 50) {
    return this.call(CHAT + 'ListHistory', pb.ListHistoryRequest, { channelId, beforeId, limit }, pb.ListHistoryResponse);
  }

  async heartbeat() {
    return (await this.call(PRESENCE + 'Heartbeat', pb.Empty, {}, pb.HeartbeatResponse)).intervalMs;
  }

  async getPresence(userIds) {
    return (await this.call(PRESENCE + 'GetPresence', pb.GetPresenceRequest, { userIds }, pb.GetPresenceResponse)).presences;
  }

  /**
   * ChatService.Subscribe: onFrame({ case, value }) per ServerFrame. Resolves when
   * the server ends the stream, rejects with a GrpcError; abort with `signal`.
   */
  subscribe(cursors, onFrame, signal) {
    const req = pb.toBytes(pb.SubscribeRequest, { cursors });
    return serverStream(this.base, CHAT + 'Subscribe', req, (bytes) => onFrame(pb.decodeOneof(pb.ServerFrame, bytes)), { token: this.token, signal });
  }
}
