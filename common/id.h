/*
 * id: unique, file-name-safe identifiers for sessions, messages and queue
 * entries.  16 lower-case hex digits: 10 from the wall clock in
 * milliseconds (so ids sort roughly by age) and 6 random (getrandom).
 * Thread-safe.  Uniqueness across processes is probabilistic; every file
 * created from an id is opened O_EXCL, so a clash is detected, never silent.
 */
#ifndef SMTPGATE_ID_H
#define SMTPGATE_ID_H

#define ID_LEN 16

/* Write a new id and its NUL into out. */
void id_generate(char out[ID_LEN + 1]);
/* 1 when s is a well-formed id (exactly ID_LEN lower-case hex digits). */
int id_valid(const char *s);

#endif
