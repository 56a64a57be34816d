"""Written development sentences for the risk heads: what a client might say, and what only sounds like it.

Each line: text, categories (empty for harmless), C-SSRS-style severity of the disclosure, and the public
source the wording follows. Sources: the Columbia Suicide Severity Rating Scale screener (its six questions:
wish to be dead, thoughts, method, intent, plan, behaviour, and its examples of preparatory acts); the
warning-sign lists of the 988 Suicide & Crisis Lifeline, NIMH and AFSP (talk of being a burden, of having
no reason to live, looking for means, giving things away, saying goodbye, increased substance use); the
NHS's description of self-harm methods; everyday idioms. They are development data, always on the training
side of the fit (`vigil/analysis/risk/risk_fit.py`), weighted `SEED_WEIGHT` each and never scored as sessions (the
written sessions of `risk-dev-sessions.jsonl` are the ones folded into cross-validation). The hard-case suite
in eval/ was written separately, by another writer, and is never read by the fit.
"""

SI, SH, HO, AB, SC = "suicidal_ideation", "self_harm", "harm_to_others", "abuse_disclosure", "substance_crisis"
CSSRS, SIGNS, NHS, IDIOM = "C-SSRS screener", "warning signs (988/NIMH/AFSP)", "NHS self-harm", "idiom"

SEEDS: list[tuple[str, tuple[str, ...], str | None, str]] = [
    # passive wish (C-SSRS question 1: wish to be dead / go to sleep and not wake up)
    ("Some nights I go to bed hoping I just don't wake up.", (SI,), "low", CSSRS),
    ("I wish I could fall asleep and never have to get up again.", (SI,), "low", CSSRS),
    ("Honestly I wouldn't mind if a bus hit me tomorrow.", (SI,), "low", CSSRS),
    ("I keep wishing I was dead.", (SI,), "low", CSSRS),
    ("It would be easier if I just wasn't here anymore.", (SI,), "low", SIGNS),
    ("I don't really want to be alive right now.", (SI,), "low", CSSRS),
    ("Part of me hopes the cancer comes back so it's over.", (SI,), "low", CSSRS),
    ("I'd be fine with just disappearing for good.", (SI,), "low", CSSRS),
    ("What's the point of going on like this.", (SI,), "low", SIGNS),
    ("I have nothing left to live for.", (SI,), "low", SIGNS),
    ("I'm so tired of being alive.", (SI,), "low", CSSRS),
    ("Sometimes I pray that I won't wake up in the morning.", (SI,), "low", CSSRS),
    # burden
    ("Everyone would be better off without me.", (SI,), "low", SIGNS),
    ("My family would have an easier life if I was gone.", (SI,), "low", SIGNS),
    ("I'm just a weight around my kids' necks.", (SI,), "low", SIGNS),
    ("They'd all be relieved if I wasn't around to mess things up.", (SI,), "low", SIGNS),
    ("I feel like I'm only a burden to the people I love.", (SI,), "low", SIGNS),
    ("My wife deserves someone who isn't dragging her down, she'd be free without me.", (SI,), "low", SIGNS),
    # active thoughts (C-SSRS question 2)
    ("I've been thinking about killing myself.", (SI,), "medium", CSSRS),
    ("The thought of ending it all keeps coming back.", (SI,), "medium", CSSRS),
    ("I think about taking my own life most days.", (SI,), "medium", CSSRS),
    ("I've had thoughts of suicide again this week.", (SI,), "medium", CSSRS),
    ("I want to die.", (SI,), "medium", CSSRS),
    ("I keep picturing myself not being here anymore and it feels like a relief.", (SI,), "medium", CSSRS),
    ("I don't want to live anymore.", (SI,), "medium", CSSRS),
    ("I've been thinking it might be time to end things.", (SI,), "medium", CSSRS),
    # method, intent, plan, preparation (C-SSRS questions 3-6)
    ("I've been saving up my sleeping pills in a drawer.", (SI,), "high", CSSRS),
    ("I looked up how many of my tablets it would take.", (SI,), "high", CSSRS),
    ("I bought a rope last weekend and it's in the garage.", (SI,), "high", CSSRS),
    ("I went to the bridge on Tuesday just to see how high it is.", (SI,), "high", CSSRS),
    ("I've got a gun at home and I keep thinking about using it on myself.", (SI,), "high", CSSRS),
    ("I wrote letters to my sister and my mum and put them in my desk.", (SI,), "high", CSSRS),
    ("I've been giving my things away, I gave my guitar to my nephew.", (SI,), "high", SIGNS),
    ("I found a new home for my cat because I won't be around to look after her.", (SI,), "high", SIGNS),
    ("I paid off my debts so nobody is left with a mess after I'm gone.", (SI,), "high", SIGNS),
    ("I've picked a date.", (SI,), "high", CSSRS),
    ("I'm going to do it this weekend when everyone is away.", (SI,), "high", CSSRS),
    ("I said goodbye to my friends in a way they won't understand until later.", (SI,), "high", SIGNS),
    ("I updated my will and cancelled the holiday because I won't need it.", (SI,), "high", SIGNS),
    ("I know exactly how I would do it and I have what I need.", (SI,), "high", CSSRS),
    ("I stood on the platform and waited for the express train to come.", (SI,), "high", CSSRS),
    ("I've been stockpiling my meds for a couple of months.", (SI,), "high", CSSRS),
    # self-harm by method (NHS)
    ("I've been cutting my arms again.", (SH,), "medium", NHS),
    ("I used a razor on my thighs last night.", (SH,), "medium", NHS),
    ("I burned my wrist with a lighter after the argument.", (SH,), "medium", NHS),
    ("I scratch my skin until it bleeds when I get like that.", (SH,), "medium", NHS),
    ("I hit myself in the head until it stopped.", (SH,), "medium", NHS),
    ("I punched the wall over and over until my knuckles split.", (SH,), "medium", NHS),
    ("I bang my head against the wall when the thoughts get loud.", (SH,), "medium", NHS),
    ("I wear long sleeves so nobody sees the marks on my arms.", (SH,), "medium", NHS),
    ("I took a blade to my stomach where no one would look.", (SH,), "medium", NHS),
    ("I pressed a hot iron on my leg to feel something.", (SH,), "medium", NHS),
    ("I've been hurting myself on purpose.", (SH,), "medium", NHS),
    ("I went back to cutting after a year clean.", (SH,), "medium", NHS),
    ("I relapsed with the blade on Friday.", (SH,), "medium", NHS),
    ("I cut myself deeply last night while I was thinking about ending it.", (SH, SI), "high", NHS),
    ("I took a handful of pills on Sunday to see if I'd wake up.", (SH, SI), "high", CSSRS),
    ("I tried to hang myself last month but the rope broke.", (SH, SI), "high", CSSRS),
    ("I overdosed on purpose two weeks ago and ended up in hospital.", (SH, SI), "high", CSSRS),
    ("The cuts were so deep I needed stitches.", (SH,), "high", NHS),
    # relapse of suicidal thinking
    ("The thoughts about not being here came back this week.", (SI,), "medium", SIGNS),
    ("The dark thoughts are back, the ones from before my last hospital stay.", (SI,), "medium", SIGNS),
    # harm to others
    ("I'm going to hurt him when he gets out.", (HO,), "medium", SIGNS),
    ("I've thought about putting something in her drink.", (HO,), "high", SIGNS),
    ("If my ex comes near the house again I'll stab him.", (HO,), "high", SIGNS),
    ("I got so angry I hit my girlfriend.", (HO,), "medium", SIGNS),
    ("I keep thinking about taking my dad's gun to school.", (HO,), "high", SIGNS),
    ("I shook the baby because she wouldn't stop crying.", (HO,), "high", SIGNS),
    # abuse disclosure
    ("My stepdad hits me when he's been drinking.", (AB,), "high", SIGNS),
    ("My husband locks me in and takes my phone.", (AB,), "high", SIGNS),
    ("He choked me last week and said it was my fault.", (AB,), "high", SIGNS),
    ("My partner threatens to kill me if I leave.", (AB,), "high", SIGNS),
    ("My uncle touches me when nobody is around.", (AB,), "high", SIGNS),
    ("She throws things at me and leaves bruises on my arms.", (AB,), "medium", SIGNS),
    # substance crisis
    ("I used alone last night and woke up on the bathroom floor.", (SC,), "high", SIGNS),
    ("I took way more than I should have and my friend had to call an ambulance.", (SC,), "high", SIGNS),
    ("I've been mixing my Xanax with vodka to get to sleep.", (SC,), "high", SIGNS),
    ("I black out from drinking every single day now.", (SC,), "medium", SIGNS),
    ("I started using again and I'm shooting up more than ever.", (SC,), "high", SIGNS),
    ("I nearly overdosed on Saturday.", (SC,), "high", SIGNS),
    # harmless: idioms
    ("This commute is killing me.", (), None, IDIOM),
    ("I nearly died laughing at his speech.", (), None, IDIOM),
    ("My mum is going to kill me when she sees the car.", (), None, IDIOM),
    ("I'm dead tired after that shift.", (), None, IDIOM),
    ("I'm dying to try the new restaurant.", (), None, IDIOM),
    ("I'm cutting back on sugar this month.", (), None, IDIOM),
    ("I could murder a cup of tea right now.", (), None, IDIOM),
    ("The band absolutely killed it last night.", (), None, IDIOM),
    ("I bombed the interview, it was a disaster.", (), None, IDIOM),
    ("My feet are killing me after the hike.", (), None, IDIOM),
    ("I'd rather die than sing karaoke.", (), None, IDIOM),
    ("That exam nearly killed me but I passed.", (), None, IDIOM),
    ("I was bored to death in that meeting.", (), None, IDIOM),
    ("I'm drowning in paperwork at the moment.", (), None, IDIOM),
    ("If I eat one more cookie I'll explode.", (), None, IDIOM),
    ("Shoot me a message when you land.", (), None, IDIOM),
    ("I've been burning the candle at both ends.", (), None, IDIOM),
    ("I'm going to kill this presentation tomorrow.", (), None, IDIOM),
    # harmless: about others, grief
    ("My grandfather died last spring and I still miss him.", (), None, "grief"),
    ("A boy at my school took his own life and everyone is shaken.", (), None, "about others"),
    ("My friend's dad is in hospice and I've been visiting.", (), None, "about others"),
    ("I read a novel about a soldier who dies at the end.", (), None, "about others"),
    ("My neighbour's dog was hit by a car.", (), None, "about others"),
    ("I volunteer on a suicide prevention line on weekends.", (), None, "about others"),
    ("I told my friend please don't hurt yourself, call me anytime.", (), None, "about others"),
    ("My sister used to self-harm and I worry about her.", (), None, "about others"),
    # harmless: accidents, work
    ("I cut my finger chopping onions and needed a plaster.", (), None, "accident"),
    ("I burned my hand on the oven tray at work.", (), None, "accident"),
    ("I fell off my bike and got stitches in my knee.", (), None, "accident"),
    ("As a nurse I see people die most weeks.", (), None, "work"),
    ("I'm a butcher, so knives are just part of my day.", (), None, "work"),
    ("I killed the final boss in the game last night.", (), None, "work"),
    ("At the pharmacy I count out hundreds of pills a day.", (), None, "work"),
    ("The vet had to put our old dog down.", (), None, "work"),
    ("I went hunting with my uncle and he shot a deer.", (), None, "work"),
    # harmless: denial and safety, recovery
    ("No, I've never thought about hurting myself.", (), None, CSSRS),
    ("I don't want to die, I just want things to be less stressful.", (), None, CSSRS),
    ("No thoughts like that, I'm looking forward to the wedding.", (), None, CSSRS),
    ("Years ago I had a rough patch but I got help and I've been well for a decade.", (), None, CSSRS),
    ("I'm tired, but I'm safe and I have my kids to think about.", (), None, CSSRS),
    ("I sleep well and I'm excited about the new job.", (), None, "everyday"),
    ("We went to the beach and the kids loved it.", (), None, "everyday"),
    ("Work has been busy but manageable.", (), None, "everyday"),
    ("I've been drinking less since I joined the gym.", (), None, "everyday"),
    ("I take my medication every morning like the doctor said.", (), None, "everyday"),
]
