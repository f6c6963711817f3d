package revocation

import "github.com/redis/go-redis/v9"

// The scripts declare their flags (Redis 7.0 shebang). A script without
// "allow-oom" is refused as a whole, before it runs, while Redis is over
// maxmemory; an undeclared (pre-7.0 style) script would instead be let
// through once its first write had run, so a write script that starts by
// cleaning the index would store entries past maxmemory and be
// acknowledged. Every script reads the time from Redis (TIME): one clock
// decides expiry for every replica, whatever their own clocks say.

// luaNow sets now to Redis's time in milliseconds.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// luaMark records that revocations ending at u were refused (why = 'full')
// or lost (why = 'lost'): the key keeps the latest such end of life (so a
// replica that starts later learns of it) and a stream marker tells the
// running replicas. u is rounded up to the minute so that a burst of
// refusals writes one marker, not one each.
const luaMark = `
local function mark(key, log, seqk, u, why, maxlen)
  u = math.ceil(u / 60000) * 60000
  local cur = tonumber(redis.call('GET', key) or '0') or 0
  if cur >= u then return 0 end
  local us = string.format('%.0f', u)
  redis.call('SET', key, us, 'PXAT', us)
  local seq = redis.call('INCR', seqk)
  redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 's', seq, 'k', '0', 'i', '', 'd', '', 'v', '0', 'u', us, 'w', why)
  return 1
end
`

// writeScript stores one entry and appends it to the stream, atomically.
// Values only tighten (max of old and new). The entry expires at its end
// of life (PXAT), an absolute time; a relative lifetime (a token without
// exp) is counted from Redis's clock. When the list is full it records the
// refusal (luaMark) and fails with FULL.
//
// KEYS: entry, index, stream, seq, full. ARGV: member, kind, iss, id,
// value ms, until ms, relative lifetime ms (0: until is absolute), max
// entries, stream max length. Returns {until ms, seq}, or nil when the
// entry has already ended by Redis's clock.
var writeScript = redis.NewScript(`#!lua
` + luaNow + luaMark + `
local v = tonumber(ARGV[5])
local u = tonumber(ARGV[6])
local rel = tonumber(ARGV[7])
if rel > 0 then u = now + rel end
if u <= now then return false end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local cu = redis.call('ZSCORE', KEYS[2], ARGV[1])
if cu then
  if tonumber(cu) > u then u = tonumber(cu) end
  local cv = tonumber(redis.call('GET', KEYS[1]) or '')
  if cv and cv > v then v = cv end
elseif redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then
  mark(KEYS[5], KEYS[3], KEYS[4], u, 'full', ARGV[9])
  return redis.error_reply('FULL deny-list full')
end
local vs = string.format('%.0f', v)
local us = string.format('%.0f', u)
redis.call('SET', KEYS[1], vs, 'PXAT', us)
redis.call('ZADD', KEYS[2], us, ARGV[1])
local seq = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', 's', seq, 'k', ARGV[2], 'i', ARGV[3], 'd', ARGV[4], 'v', vs, 'u', us)
return {us, seq}
`)

// seenScript records a one-time message until its end of life, counted in
// the index like every entry, and reports whether it was the first.
//
// KEYS: seen key, index. ARGV: member, until ms, relative lifetime ms,
// max entries. Returns 1 (first) or 0.
var seenScript = redis.NewScript(`#!lua
` + luaNow + `
local u = tonumber(ARGV[2])
local rel = tonumber(ARGV[3])
if rel > 0 then u = now + rel end
if u <= now then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return redis.error_reply('FULL deny-list full')
end
local us = string.format('%.0f', u)
redis.call('SET', KEYS[1], '1', 'PXAT', us)
redis.call('ZADD', KEYS[2], us, ARGV[1])
return 1
`)

// markScript records refused or lost revocations (luaMark). It may run
// while Redis is out of memory: it is how a write refused for lack of
// memory reaches every replica.
//
// KEYS: full or lost key, stream, seq. ARGV: until ms, relative lifetime
// ms (0: until is absolute), 'full' or 'lost', stream max length.
var markScript = redis.NewScript(`#!lua flags=allow-oom
` + luaNow + luaMark + `
local u = tonumber(ARGV[1])
local rel = tonumber(ARGV[2])
if rel > 0 then u = now + rel end
if u <= now then return 0 end
return mark(KEYS[1], KEYS[2], KEYS[3], u, ARGV[3], ARGV[4])
`)

// epochScript names this incarnation of the deny-list: a random value
// stored once, with no expiry. A replica that finds another value (or none)
// knows Redis lost its data. KEYS: epoch. ARGV: candidate. Returns the
// epoch.
var epochScript = redis.NewScript(`#!lua flags=allow-oom
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`)

// timeScript returns Redis's time in milliseconds. The loader sends it
// after an MGET on the same connection (a key routes it to the node that
// holds the deny-list), so it can tell an entry that ended (its end of
// life is past) from one that went missing (evicted or deleted while still
// live). KEYS: any key of the deny-list.
var timeScript = redis.NewScript(`#!lua flags=no-writes
` + luaNow + `
return string.format('%.0f', now)
`)

// auditScript reports, atomically, where the stream stands against a
// replica's position, and the state a replica must know: the epoch, the
// number of live entries, refusals and losses recorded, the clock, and the
// memory settings and evictions of the Redis that holds the deny-list.
//
// KEYS: stream, seq, epoch, index, full, lost. ARGV: the replica's last
// applied stream ID and sequence number (ID empty: no position, status
// "none").
//
// Status: "ok" (the replica has everything), "behind" (the entries after
// its position follow it without a gap), "trimmed" (entries it has not
// read were trimmed: reload, the entries themselves are intact) or
// "diverged" (the stream is not a continuation of what the replica read:
// Redis lost entries it had, in a failover or a reset).
//
// Returns {status, newest ID, seq, epoch, live entries, full until,
// lost until, now ms, maxmemory-policy, used_memory, maxmemory,
// evicted_keys}.
var auditScript = redis.NewScript(`#!lua flags=no-writes
` + luaNow + `
local function idcmp(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  if am ~= bm then return am < bm and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end
local function entseq(e)
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 's' then return tonumber(f[i + 1]) end
  end
  return nil
end
local newest = '0-0'
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] then newest = last[1][1] end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local status = 'none'
if ARGV[1] ~= '' then
  local lid, lseq = ARGV[1], tonumber(ARGV[2])
  local me = {}
  if lid ~= '0-0' then me = redis.call('XRANGE', KEYS[1], lid, lid) end
  if me[1] then
    if entseq(me[1]) ~= lseq then
      status = 'diverged'
    else
      local nx = redis.call('XRANGE', KEYS[1], '(' .. lid, '+', 'COUNT', 1)
      if not nx[1] then
        if seq == lseq then status = 'ok' else status = 'diverged' end
      elseif entseq(nx[1]) == lseq + 1 then
        status = 'behind'
      else
        status = 'diverged'
      end
    end
  else
    local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
    if seq < lseq then
      status = 'diverged'
    elseif not first[1] then
      if seq == lseq then status = 'ok' else status = 'trimmed' end
    elseif idcmp(first[1][1], lid) <= 0 then
      status = 'diverged'
    else
      local fs = entseq(first[1])
      if fs == lseq + 1 then status = 'behind'
      elseif fs and fs > lseq + 1 then status = 'trimmed'
      else status = 'diverged' end
    end
  end
end
local policy, used, maxmem, evicted = '', '0', '0', '0'
local info = redis.pcall('INFO', 'memory')
if type(info) == 'string' then
  policy = string.match(info, 'maxmemory_policy:([%w%-]+)') or ''
  used = string.match(info, '\nused_memory:(%d+)') or '0'
  maxmem = string.match(info, '\nmaxmemory:(%d+)') or '0'
end
info = redis.pcall('INFO', 'stats')
if type(info) == 'string' then
  evicted = string.match(info, '\nevicted_keys:(%d+)') or '0'
end
return {status, newest, string.format('%.0f', seq), redis.call('GET', KEYS[3]) or '',
  tostring(redis.call('ZCOUNT', KEYS[4], '(' .. string.format('%.0f', now), '+inf')),
  redis.call('GET', KEYS[5]) or '0', redis.call('GET', KEYS[6]) or '0',
  string.format('%.0f', now), policy, used, maxmem, evicted}
`)
