import sys, time, numpy as np
from scipy import ndimage
from jointsed.data.annotations import read_strong_tsv, read_durations_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.postprocess import *
classes=list(DESED_CLASSES)
gt=read_strong_tsv('/work/shared/desed_meta/validation.tsv')
syn=read_strong_tsv('/work/shared/desed_meta/synthetic2019.tsv')
wins=lin_median_windows(syn,classes)
base=lin_default_params(classes,wins)
rng=np.random.default_rng(0)
hop=0.02
clip,frame={},{}
byf=gt.by_file()
for f in gt.filenames:
    truth=np.zeros((500,10))
    for e in byf[f]:
        c=classes.index(e.event_label); truth[int(e.onset/hop):int(np.ceil(e.offset/hop)),c]=1
    mode=sys.argv[1] if len(sys.argv)>1 else 'random'
    if mode=='random':
        p=rng.random((500,10))
    else:
        p=np.clip(ndimage.uniform_filter1d(truth*0.6+rng.random((500,10))*0.5,9,axis=0),0,1)
    frame[f]=p.astype(np.float32); clip[f]=np.clip(truth.max(0)*0.5+rng.random(10)*0.5,0,1).astype(np.float32)
durations={f:10.0 for f in gt.filenames}
obj=sys.argv[2] if len(sys.argv)>2 else 'event_f1'
t=time.perf_counter()
grid=TuningGrid(max_gaps=[0,0.1,0.2],min_durations=[0,0.1,0.2]) if len(sys.argv)>3 else TuningGrid()
res=tune_event_specific(clip,frame,gt,durations,hop,base,grid,objective=obj,progress=False)
print('elapsed',time.perf_counter()-t)
print(res.table())
if obj=='event_f1':
    ev=postprocess_scores(clip,frame,res.params,hop)
    f=event_f1_per_class(gt.events,ev,classes)
    print('check tuned', np.mean(list(f.values())), res.tuned_score)
