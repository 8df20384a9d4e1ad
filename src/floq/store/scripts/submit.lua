-- Register a batch of task runs of one flow run; queue each at once if none of its upstreams
-- is unfinished, else leave it waiting in its hash (counted in 'w').
-- KEYS[1] queue stream
-- ARGV: flow-run prefix, flow run id, queue, ttl, then per task run: id, payload, upstream ids
--       (comma list), code address, task run name
-- Also lists the task run ids in the flow run's index and counts them in its record; once the
-- flow run is cancelled, its new task runs are recorded Cancelled and never queued.
local stream = KEYS[1]
local prefix, fr, queue, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local waiting_total, count, ids = 0, 0, {}
local index, run = prefix .. 'tasks', prefix .. 'run'
local cancelled = redis.call('HGET', run, 'type') == 'CANCELLED'
for i = 5, #ARGV, 5 do
  local tid, payload, ups, code, name = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local task = prefix .. 't:' .. tid
  local waiting = 0
  for up in string.gmatch(ups, '[^,]+') do
    local upkey = prefix .. 't:' .. up
    if redis.call('HGET', upkey, 'f') ~= '1' then
      local deps = prefix .. 'd:' .. up
      redis.call('SADD', deps, tid)
      redis.call('EXPIRE', deps, ttl)
      redis.call('HSET', upkey, 'd', '1')  -- complete.lua looks for dependents only then
      redis.call('EXPIRE', upkey, ttl)
      waiting = waiting + 1
    end
  end
  local entry = ''
  if waiting == 0 and not cancelled then
    entry = redis.call('XADD', stream, '*', 'f', fr, 't', tid, 'p', payload, 'u', ups, 'n', 1,
      'c', code)
  end
  redis.call('HSET', task, 'r', fr, 'i', tid, 'p', payload, 'q', queue, 'u', ups, 'w', waiting,
    'n', 1, 'c', code, 'e', entry, 'nm', name, 'st', 'Pending')
  if cancelled then
    redis.call('HSET', task, 'f', '1', 'st', 'Cancelled', 'x', '1')
    redis.call('HINCRBY', run, 'n:CANCELLED', 1)
  end
  redis.call('EXPIRE', task, ttl)
  ids[#ids + 1] = tid
  waiting_total = waiting_total + waiting
  count = count + 1
end
if count > 0 then
  redis.call('RPUSH', index, unpack(ids))
end
redis.call('HINCRBY', run, 'n:SUBMITTED', count)
redis.call('EXPIRE', run, ttl)
redis.call('EXPIRE', index, ttl)
return waiting_total
