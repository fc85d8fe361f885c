/*
 * notify.h - systemd service notifications (sd_notify) and the watchdog.
 */
#ifndef KM_NOTIFY_H
#define KM_NOTIFY_H

#include <stdbool.h>

/* healthy() decides whether each watchdog period may be acknowledged. */
void notify_init(bool (*healthy)(void));
void notify_ready(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notify_reloading(void);
/* READY=1 again after a reload, whatever came before. */
void notify_reloaded(void);
void notify_stopping(void);

#endif
