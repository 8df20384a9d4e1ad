-- Put a dead letter's entry back on its queue, at most once (floq.store.protocol.dead_letters).
-- KEYS[1] queue stream, KEYS[2] the queue's dead-letter stream
-- ARGV: letter id, then 'raw', field, value, ... (an entry that names no run, put back as is)
--       or 'run', flow-run prefix, flow run id, task run id, message (re-queued from its record)
-- Returns {'requeued', new entry id}, or the refusal and what it concerns: 'no-letter',
-- 'no-record' (expired), 'cancelled', 'ended' (its state), 'queued' (its current entry)
local stream, dead, letter, kind = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
if #redis.call('XRANGE', dead, letter, letter) == 0 then
  return {'no-letter', letter}
end
if kind == 'raw' then
  local id = redis.call('XADD', stream, '*', unpack(ARGV, 3))
  redis.call('XDEL', dead, letter)
  return {'requeued', id}
end
local prefix, fr, tid, message = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local task = prefix .. 't:' .. tid
local f = redis.call('HMGET', task, 'p', 'u', 'n', 'c', 'f', 'st', 'e', 'x')
if not f[1] then
  return {'no-record', tid}
end
if f[8] == '1' then
  return {'cancelled', tid}
end
if f[5] == '1' and f[6] ~= 'Failed' then
  return {'ended', f[6]}
end
if f[5] ~= '1' and f[7] and f[7] ~= '' then
  return {'queued', f[7]}
end
local id = redis.call('XADD', stream, '*', 'f', fr, 't', tid, 'p', f[1], 'u', f[2], 'n', f[3],
  'c', f[4])
if f[5] == '1' then
  redis.call('HINCRBY', prefix .. 'run', 'n:FAILED', -1)
  redis.call('HDEL', task, 'f')
end
redis.call('HSET', task, 'e', id, 'st', 'Pending', 'm', message)
redis.call('XDEL', dead, letter)
return {'requeued', id}
