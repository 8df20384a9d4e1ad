-- Register one task run; queue it now if none of its upstreams is unfinished.
-- KEYS[1] task hash, KEYS[2] queue stream
-- ARGV: flow-run prefix, flow run id, task run id, payload, queue, upstream ids (comma list), ttl
local task, stream = KEYS[1], KEYS[2]
local prefix, fr, tid, payload, queue, ups, ttl = unpack(ARGV)
local waiting = 0
for up in string.gmatch(ups, '[^,]+') do
  if redis.call('HGET', prefix .. 't:' .. up, 'f') ~= '1' then
    local deps = prefix .. 'd:' .. up
    redis.call('SADD', deps, tid)
    redis.call('EXPIRE', deps, ttl)
    waiting = waiting + 1
  end
end
redis.call('HSET', task, 'r', fr, 'i', tid, 'p', payload, 'q', queue, 'u', ups, 'w', waiting, 'n', 1)
redis.call('EXPIRE', task, ttl)
if waiting == 0 then
  local id = redis.call('XADD', stream, '*', 'f', fr, 't', tid, 'p', payload, 'u', ups, 'n', 1)
  redis.call('HSET', task, 'e', id)
end
return waiting
