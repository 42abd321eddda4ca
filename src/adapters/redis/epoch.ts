/**
 * The epoch of the data this Redis serves: its process `run_id` (new on every
 * start, so a restart from an older RDB/AOF changes it) joined with its
 * `master_replid` (new whenever an instance is promoted to master, so a
 * failover changes it even when the promoted instance is an old master that
 * was demoted and kept its process: `run_id` alone would not see that).
 * `master_replid` also changes when a master without a replication backlog
 * gets its first replica; that costs one needless validation per channel.
 * INFO server is most of the script's cost; the replication section adds
 * little to it (measured on Redis 7.0).
 */
export const EPOCH = `
local function epoch()
  local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
  if not run then error('this Redis reports no run_id: cannot tell a restart apart') end
  return run .. ':' .. (string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)') or '')
end`;
