#ifndef SO_CONTROLLER_INFORMER_STORE_H
#define SO_CONTROLLER_INFORMER_STORE_H

#include "operator/controller/state.h"

/* informer_store.c: the production store over ctl's informers, client and recorders. */
struct ctl_store ctl_store_informers(struct controller *ctl);

#endif
