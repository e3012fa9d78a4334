/*
 * service.c — JetStopService, JetStopServiceInstance and JetStopServiceInstance2: resolve the
 * instance by ESE's mode rules and let the engine stop (or resume) its service.
 */
#include "imgr-int.h"

JET_ERR JET_API JetStopServiceInstance2(JET_INSTANCE instance, JET_GRBIT grbit)
{
    eng_inst *in;
    long err = imgr_pin(instance, &in);
    if (err)
        return err;
    err = eng_inst_stop_service(in, grbit);
    imgr_unpin(in);
    return err;
}

JET_ERR JET_API JetStopServiceInstance(JET_INSTANCE instance)
{
    return JetStopServiceInstance2(instance, JET_bitStopServiceAll);
}

JET_ERR JET_API JetStopService(void)
{
    eng_inst *in;
    long err = imgr_legacy_pin(&in, "JetStopServiceInstance2");
    if (err)
        return err;
    err = eng_inst_stop_service(in, JET_bitStopServiceAll);
    imgr_unpin(in);
    return err;
}
