/* events.c — the emitter: events to whoever the caller named, or nowhere. */
#include "events.h"

#include <stdarg.h>

#include "mc_util.h"

void mc_emit(const struct mc_emitter *em, const struct mc_event *ev)
{
	if (em && em->fn)
		em->fn(em->ud, ev);
}

void mc_emit_text(const struct mc_emitter *em, enum mc_event_kind kind, const char *phase, const char *text)
{
	mc_emit(em, &(struct mc_event){ .kind = kind, .phase = phase, .text = text });
}

void mc_emit_warn(const struct mc_emitter *em, const char *fmt, ...)
{
	struct mc_buf b = MC_BUF_INIT;
	va_list ap;

	if (!em || !em->fn)
		return;
	va_start(ap, fmt);
	mc_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	mc_emit_text(em, MC_EV_WARN, NULL, mc_buf_cstr(&b));
	mc_buf_release(&b);
}

int64_t mc_emit_phase_begin(const struct mc_emitter *em, const char *phase)
{
	int64_t t0 = mc_mono_ms(); /* the phase's time includes showing it began */

	mc_emit(em, &(struct mc_event){ .kind = MC_EV_PHASE_BEGIN, .phase = phase });
	return t0;
}

void mc_emit_phase_end(const struct mc_emitter *em, const char *phase, int64_t t0)
{
	if (em && em->fn)
		mc_emit(em, &(struct mc_event){ .kind = MC_EV_PHASE_END, .phase = phase, .ms = mc_mono_ms() - t0 });
}
